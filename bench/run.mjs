// npm run bench [-- name...]: runs every bench/<name>.bench file listed below, or the named ones.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dir = new URL(".", import.meta.url).pathname;
const HELPERS = new Set(["run.mjs", "agent-workload.mjs"]);
const all = readdirSync(dir)
  .filter((f) => /\.(mjs|ts)$/.test(f) && !HELPERS.has(f) && !f.endsWith(".d.ts"))
  .map((f) => f.replace(/\.(mjs|ts)$/, ""))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !all.includes(name));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(", ")}; available: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
  const file = ["mjs", "ts"].map((ext) => join(dir, `${name}.${ext}`)).find(existsSync);
  console.log(`\n## ${name}`);
  const run = spawnSync(process.execPath, [file], { stdio: "inherit" });
  if (run.status !== 0) {
    console.error(`bench ${name} failed (exit ${run.status})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
