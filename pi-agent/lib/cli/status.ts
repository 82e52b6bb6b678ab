import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Spool } from "../spool.ts";
import { EXIT, UsageError } from "./exit-codes.ts";

export const STATUS_HELP = `lucid-agent status --out DIR [--json]

Shows a spool: session id, next chunk index, chunks waiting for upload and their bytes.
`;

export async function status(argv: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) return log(STATUS_HELP), EXIT.ok;
  if (!values.out) throw new UsageError("status needs --out DIR");
  if (!existsSync(join(values.out, "session.json"))) throw new UsageError(`${values.out} is not a spool (no session.json)`);
  const { state, pending, usedBytes } = await Spool.inspect(values.out);
  const report = {
    sessionId: state.sessionId,
    nextIndex: Math.max(state.nextIndex, ...pending.map((m) => m.index + 1)),
    pendingChunks: pending.map((m) => m.index),
    pendingBytes: usedBytes,
    oldestPendingCapture: pending[0] ? new Date(pending[0].captureStart).toISOString() : null,
  };
  if (values.json) log(JSON.stringify(report));
  else {
    log(`session       ${report.sessionId}`);
    log(`next chunk    ${report.nextIndex}`);
    log(`waiting       ${pending.length} chunks, ${report.pendingBytes} bytes${report.oldestPendingCapture ? `, oldest captured ${report.oldestPendingCapture}` : ""}`);
  }
  return EXIT.ok;
}
