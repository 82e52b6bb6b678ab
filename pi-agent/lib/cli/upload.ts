import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Spool } from "../spool.ts";
import { Uploader, type UploadEvent } from "../uploader.ts";
import { EXIT, UsageError, positiveNumber } from "./exit-codes.ts";

export const uploadOptions = `  --server URL          sessions API origin; chunks are PUT to URL/api/v1/sessions/ID/chunks/N
  --token-file FILE     node credential for the Authorization header (or env LUCID_NODE_TOKEN)
  --concurrency N       uploads at once (default 2)`;

export const UPLOAD_HELP = `lucid-agent upload --out DIR --server URL [options]

Uploads every chunk still spooled in DIR and exits when the spool is empty. Unreachable servers and
5xx answers are retried with back-off; a chunk the server refuses for good stays spooled (exit 76).

  --out DIR             spool directory written by \`record\`
${uploadOptions}`;

/** The node credential from --token-file or env LUCID_NODE_TOKEN. */
export function nodeToken(values: { "token-file"?: string }): string | undefined {
  return values["token-file"] ? readFileSync(values["token-file"], "utf8").trim() : process.env.LUCID_NODE_TOKEN;
}

export function uploaderFromArgs(
  values: { server?: string; "token-file"?: string; concurrency?: string },
  spool: Spool,
  log: (line: string) => void,
): Uploader | null {
  if (!values.server) return null;
  let url: URL;
  try {
    url = new URL(values.server);
  } catch {
    throw new UsageError(`--server "${values.server}" is not a URL`);
  }
  const token = nodeToken(values);
  if (!token) throw new UsageError("--server needs a node credential: --token-file FILE or env LUCID_NODE_TOKEN");
  return new Uploader(spool, {
    baseUrl: url.origin,
    token,
    concurrency: positiveNumber(values.concurrency, "concurrency", 2, true),
    minBackoffMs: 250,
    maxBackoffMs: 30_000,
    onEvent: (e) => log(describeUploadEvent(e)),
  });
}

export async function upload(argv: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      server: { type: "string" },
      "token-file": { type: "string" },
      concurrency: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return (log(UPLOAD_HELP), EXIT.ok);
  if (!values.out || !values.server) throw new UsageError("upload needs --out and --server");
  if (!existsSync(join(values.out, "session.json"))) throw new UsageError(`${values.out} is not a spool (no session.json)`);
  const spool = await Spool.open(values.out, { quotaBytes: Number.MAX_SAFE_INTEGER });
  process.once("exit", () => spool.close()); // every way out but kill -9, which the next run detects
  const uploader = uploaderFromArgs(values, spool, log)!;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await uploader.run({ signal: stop.signal, done: () => true });
  const left = (await spool.pending()).length;
  log(`${left} chunks left in the spool`);
  if (uploader.rejected.size > 0) return EXIT.uploadRejected;
  return left === 0 ? EXIT.ok : EXIT.failure;
}

function describeUploadEvent(e: UploadEvent): string {
  switch (e.kind) {
    case "uploaded":
      return `chunk ${e.index}: uploaded (HTTP ${e.status}), removed from spool`;
    case "retry":
      return `chunk ${e.index}: upload attempt ${e.attempt} failed (${e.reason}); retrying in ${e.delayMs} ms`;
    case "rejected":
      return `error: chunk ${e.index} refused (HTTP ${e.status}): ${e.reason}; it stays in the spool`;
    case "terms-uploaded":
      return `chunk ${e.index}: search terms uploaded`;
    case "terms-refused":
      return `chunk ${e.index}: search terms dropped: ${e.reason}`;
    case "terms-rejected":
      return `error: chunk ${e.index}: search terms refused (HTTP ${e.status}): ${e.reason}; they stay in the spool`;
  }
}
