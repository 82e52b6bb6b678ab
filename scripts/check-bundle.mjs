#!/usr/bin/env node
// Bundles the Worker as `wrangler deploy` would (--dry-run) and checks it against Cloudflare's
// script size limits, so the fleet path (Cloudflare) stays open: 3 MiB gzip on Workers Free,
// 10 MiB on paid plans. Fails above the paid limit; warns above the free one.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildDashboard } from "../edge-adapter/dashboard.ts";

const root = new URL("..", import.meta.url).pathname;
const outDir = join(root, ".wrangler", "dry-run");
rmSync(outDir, { recursive: true, force: true });
// wrangler's [assets] directory must exist to bundle.
buildDashboard(root, { ifMissing: true });
const run = spawnSync(join(root, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outDir], {
  cwd: root,
  encoding: "utf8",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
if (run.status !== 0) {
  console.error(run.stdout, run.stderr);
  process.exit(1);
}
const MiB = 1024 * 1024;
let raw = 0;
let gzip = 0;
for (const file of readdirSync(outDir).filter((f) => !f.endsWith(".map") && f !== "README.md")) {
  const bytes = readFileSync(join(outDir, file));
  raw += bytes.length;
  gzip += gzipSync(bytes, { level: 9 }).length;
}
console.log(`bundle: ${(raw / MiB).toFixed(2)} MiB, ${(gzip / MiB).toFixed(2)} MiB gzip (limits: 3 MiB free, 10 MiB paid)`);
if (gzip > 10 * MiB) {
  console.error("bundle exceeds Cloudflare's 10 MiB (gzip) Worker size limit");
  process.exit(1);
}
if (gzip > 3 * MiB) console.warn("warning: bundle exceeds the Workers Free plan's 3 MiB (gzip) limit");
