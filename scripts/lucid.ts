#!/usr/bin/env node
// lucid verify PACKAGE.tar [--genesis HASH] [--key HEX | --passphrase-file F | --x25519-secret-file F] — checks a recording package offline against the chain's
// genesis hash (docs/package.md; scripts/verify-package.ts, the same code as the single-file lucid-verify.mjs).
// lucid verify BUNDLE.json [--chunks DIR [--allow-missing-chunks]] [--trust KEY]... — checks a session's evidence bundle offline:
// chunk files → chunk hashes → session root → anchor → block → producer signature → TRON anchor. Exit 0 when it
// holds, 1 when a check fails (naming the first; a chunk file missing from DIR is a failure), 2 for usage or
// unreadable input; for a package, 3 when the passphrase or secret key opens none of its key shares.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { verifyEvidence } from "../shared/verify.ts";
import { PACKAGE_USAGE, verifyPackageCommand } from "./verify-package.ts";

const USAGE = `usage: lucid verify PACKAGE.tar [--genesis HASH] [--key HEX | --passphrase-file FILE | --x25519-secret-file FILE] [--json]
       lucid verify BUNDLE.json [--chunks DIR [--allow-missing-chunks]] [--trust PRODUCER_KEY]... [--require-tron] [--json]

  BUNDLE.json   the evidence bundle (GET /api/v1/sessions/:id/evidence)
  --chunks DIR  directory of the encrypted chunks, named <index>.chunk; each is hashed and compared, and a
                missing one fails the verification
  --allow-missing-chunks  with --chunks: check chunks whose file is missing by the bundle's hash alone
                (they are listed as "checked only by hash")
  --trust KEY   an Ed25519 producer key (hex) to trust; repeatable; without it any valid signature passes
  --require-tron  fail when the bundle carries no TRON anchor of its block (otherwise only reported)
  --json        print the result as JSON

A recording package (GET /api/v1/sessions/:id/package) is checked from the chain's genesis:
${PACKAGE_USAGE.split("\n").slice(1).join("\n")}`;

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
  const first = rest.find((arg) => !arg.startsWith("-"));
  if (first && isTar(first)) return verifyPackageCommand(rest, "lucid verify");
  let args;
  try {
    args = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        chunks: { type: "string" },
        "allow-missing-chunks": { type: "boolean" },
        trust: { type: "string", multiple: true },
        json: { type: "boolean" },
        "require-tron": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
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
  const allowMissingChunks = args.values["allow-missing-chunks"] ?? false;
  if (allowMissingChunks && !dir) {
    console.error(`lucid verify: --allow-missing-chunks needs --chunks DIR\n${USAGE}`);
    return 2;
  }
  if (dir && !(existsSync(dir) && statSync(dir).isDirectory())) {
    console.error(`lucid verify: chunk directory ${dir} does not exist`);
    return 2;
  }
  let result;
  try {
    result = await verifyEvidence(bundle, {
      chunkBytes: dir ? (index) => readChunk(join(dir, `${index}.chunk`)) : undefined,
      allowMissingChunks,
      trustedProducers: args.values.trust,
      requireTronAnchor: args.values["require-tron"] ?? false,
    });
  } catch (error) {
    console.error(`lucid verify: ${(error as Error).message}`);
    return 2;
  }
  if (args.values.json) console.log(JSON.stringify(result, null, 2));
  else for (const check of result.checks) console.log(`${check.ok ? "ok  " : "FAIL"} ${check.step}: ${check.message}`);
  if (!result.ok && !args.values.json) console.error(`lucid verify: FAILED at ${result.failure.step}: ${result.failure.message}`);
  return result.ok ? 0 : 1;
}

/** Whether `path` is a ustar archive (a recording package) rather than a JSON bundle. */
function isTar(path: string): boolean {
  try {
    const fd = openSync(path, "r");
    const block = new Uint8Array(512);
    const n = readSync(fd, block, 0, 512, 0);
    closeSync(fd);
    return n === 512 && new TextDecoder().decode(block.subarray(257, 262)) === "ustar";
  } catch {
    return false;
  }
}

/** A chunk file's bytes, or undefined when there is none; a file that exists but cannot be read is an error. */
function readChunk(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read chunk file ${path}: ${(error as Error).message}`);
  }
}

process.exitCode = await main(process.argv.slice(2));
