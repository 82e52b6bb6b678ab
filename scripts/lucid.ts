#!/usr/bin/env node
// lucid verify BUNDLE.json [--chunks DIR] [--trust KEY]... — checks a session's evidence bundle offline:
// chunk files → chunk hashes → session root → anchor → block → producer signature → TRON anchor. Exit 0 when it
// holds, 1 when a check fails (naming the first), 2 for usage or unreadable input.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { verifyEvidence } from "../shared/verify.ts";

const USAGE = `usage: lucid verify BUNDLE.json [--chunks DIR] [--trust PRODUCER_KEY]... [--require-tron] [--json]

  BUNDLE.json   the evidence bundle (GET /api/v1/sessions/:id/evidence)
  --chunks DIR  directory of the encrypted chunks, named <index>.chunk; each is hashed and compared
  --trust KEY   an Ed25519 producer key (hex) to trust; repeatable; without it any valid signature passes
  --require-tron  fail when the bundle carries no TRON anchor of its block (otherwise only reported)
  --json        print the result as JSON`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === undefined) {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== "verify") {
    console.error(`lucid: unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  let args;
  try {
    args = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { chunks: { type: "string" }, trust: { type: "string", multiple: true }, json: { type: "boolean" }, "require-tron": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    console.error(`lucid verify: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.values.help) {
    console.log(USAGE);
    return 0;
  }
  const [file] = args.positionals;
  if (!file || args.positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }
  let bundle: unknown;
  try {
    bundle = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    console.error(`lucid verify: cannot read ${file}: ${(error as Error).message}`);
    return 2;
  }
  const dir = args.values.chunks;
  if (dir && !existsSync(dir)) {
    console.error(`lucid verify: chunk directory ${dir} does not exist`);
    return 2;
  }
  const result = await verifyEvidence(bundle, {
    chunkBytes: dir
      ? (index) => {
          const path = join(dir, `${index}.chunk`);
          return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
        }
      : undefined,
    trustedProducers: args.values.trust,
    requireTronAnchor: args.values["require-tron"] ?? false,
  });
  if (args.values.json) console.log(JSON.stringify(result, null, 2));
  else for (const check of result.checks) console.log(`${check.ok ? "ok  " : "FAIL"} ${check.step}: ${check.message}`);
  if (!result.ok && !args.values.json) console.error(`lucid verify: FAILED at ${result.failure.step}`);
  return result.ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
