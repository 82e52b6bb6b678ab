#!/usr/bin/env node
// The Worker's binding types come from `wrangler types` (worker-configuration.d.ts, used by
// platform/env.ts). `node scripts/worker-types.mjs` regenerates the file; with `--check` it
// generates a fresh copy beside it and fails when the checked-in file differs (a binding added
// to wrangler.toml, a class renamed) without touching it.
// Local secrets (.dev.vars) are left out, so the output is the same on every machine.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const FILE = "worker-configuration.d.ts";
const FLAGS = ["--include-runtime=false", "--strict-vars=false", "--env-interface=WorkerBindings", "--env-file=/dev/null"];
const check = process.argv.includes("--check");
const out = check ? ".worker-configuration.check.d.ts" : FILE;

const run = spawnSync("wrangler", ["types", out, ...FLAGS], { cwd: root, encoding: "utf8" });
if (run.status !== 0) {
  process.stderr.write(run.stdout + run.stderr);
  process.exit(1);
}
if (!check) process.exit(0);

// Line 2 names the command and output path; the declarations follow.
const body = (path) => readFileSync(join(root, path), "utf8").split("\n").slice(2).join("\n");
try {
  if (body(out) !== body(FILE)) {
    console.error(`${FILE} is stale: run \`npm run types\` and commit the result.`);
    process.exit(1);
  }
  console.log(`${FILE} is current.`);
} finally {
  rmSync(join(root, out), { force: true });
}
