import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readBoard, type BoardState } from "../node/notice-board.ts";
import { Spool } from "../spool.ts";
import { EXIT, UsageError } from "./exit-codes.ts";

export const STATUS_HELP = `lucid-agent status (--out DIR | --state DIR) [--json]

--out DIR     a spool: session id, next chunk index, chunks waiting for upload and their bytes.
--state DIR   the node daemon's state directory: the emergency controls as the agent last heard
              them (and what it does about them), the notification cursor, and the latest
              broadcasts and desktop notices (where each was shown, whether it was retracted).
`;

export async function status(argv: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: "string" }, state: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) return (log(STATUS_HELP), EXIT.ok);
  if (!values.out && !values.state) throw new UsageError("status needs --out DIR or --state DIR");
  if (values.state) nodeStatus(values.state, Boolean(values.json), log);
  if (values.out) await spoolStatus(values.out, Boolean(values.json), log);
  return EXIT.ok;
}

function nodeStatus(dir: string, json: boolean, log: (line: string) => void): void {
  if (!existsSync(join(dir, "node.json"))) throw new UsageError(`${dir} holds no enrolled node (no node.json)`);
  let board: BoardState;
  try {
    board = readBoard(dir);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (json) return log(JSON.stringify({ cursor: board.cursor, emergency: board.emergency, notices: board.notices }));
  const e = board.emergency;
  const flag = (name: string, f: BoardState["emergency"]["lockdown"], effect: string) =>
    log(`${name.padEnd(18)}${f.active ? `ON since ${f.since ?? "?"}${f.reason ? ` (${f.reason})` : ""}: ${effect}` : "off"}`);
  flag("lockdown", e.lockdown, "uploads, new session recordings and heartbeats held");
  flag("recordings halted", e.recordings_halted, "local recordings stopped, spool kept");
  flag("sessions shutdown", e.sessions_shutdown, "no new sessions (the server refuses them)");
  log(`notifications     ${board.cursor === null ? "never connected" : `handled up to id ${board.cursor}`}`);
  for (const n of board.notices) {
    const where = n.shownOn.length ? `shown on ${n.shownOn.join(", ")}` : "not shown on a desktop";
    log(
      `  ${n.at} ${n.severity.padEnd(8)} ${n.source === "broadcast" ? n.key.replace("broadcast:", "#") : `server ${n.serverId}`} ${n.title}: ${n.body.replace(/\s+/g, " ").slice(0, 200)} [${where}${n.retracted ? ", retracted" : ""}]`,
    );
  }
}

async function spoolStatus(out: string, json: boolean, log: (line: string) => void): Promise<void> {
  if (!existsSync(join(out, "session.json"))) throw new UsageError(`${out} is not a spool (no session.json)`);
  const { state, pending, usedBytes } = await Spool.inspect(out);
  const report = {
    sessionId: state.sessionId,
    nextIndex: Math.max(state.nextIndex, ...pending.map((m) => m.index + 1)),
    pendingChunks: pending.map((m) => m.index),
    pendingBytes: usedBytes,
    oldestPendingCapture: pending[0] ? new Date(pending[0].captureStart).toISOString() : null,
  };
  if (json) log(JSON.stringify(report));
  else {
    log(`session       ${report.sessionId}`);
    log(`next chunk    ${report.nextIndex}`);
    log(
      `waiting       ${pending.length} chunks, ${report.pendingBytes} bytes${report.oldestPendingCapture ? `, oldest captured ${report.oldestPendingCapture}` : ""}`,
    );
  }
}
