#!/usr/bin/env node
// Generates drizzle migrations for every Durable Object that has a drizzle.config.ts.
// Migrations are generated, never hand-edited: change schema.ts, then run `npm run db:generate`.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const objects = join(root, "durable-objects");
let failed = false;
for (const name of readdirSync(objects)) {
  const config = join("durable-objects", name, "drizzle.config.ts");
  if (!existsSync(join(root, config))) continue;
  console.log(`# ${name}`);
  const args = ["generate", `--config=${config}`, ...process.argv.slice(2)];
  const run = spawnSync("drizzle-kit", args, { cwd: root, stdio: "inherit" });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
