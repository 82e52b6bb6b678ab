#!/usr/bin/env node
// npm start: serves Lucid locally with `wrangler dev` (state persisted under .wrangler/state),
// creating .dev.vars with random secrets on first run and seeding demo data idempotently.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureDevVars } from "./dev-vars.mjs";
import { seedDemo } from "./seed-demo.mjs";
import { buildDashboard } from "../edge-adapter/dashboard.ts";

const root = new URL("..", import.meta.url).pathname;
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? "127.0.0.1";
const base = `http://${host}:${port}`;

const added = ensureDevVars(join(root, ".dev.vars"));
if (added.length) console.log(`created .dev.vars with random ${added.join(", ")}`);

console.log("building the dashboard (out/dashboard)…");
buildDashboard(root);

const wrangler = spawn(
  join(root, "node_modules", ".bin", "wrangler"),
  ["dev", "--ip", host, "--port", String(port), "--persist-to", join(root, ".wrangler", "state"), "--show-interactive-dev-session=false"],
  { cwd: root, stdio: ["inherit", "inherit", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => wrangler.kill(signal));
wrangler.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)));

async function waitUntilUp(deadline = Date.now() + 120_000) {
  for (;;) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${base}/health did not answer within 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

try {
  await waitUntilUp();
  await seedDemo(base);
  console.log(`\nLucid is running at ${base}\n  dashboard: ${base}/\n  health:  ${base}/health\n  OpenAPI: ${base}/api/v1/openapi.json\n`);
} catch (error) {
  console.error(`npm start: ${error instanceof Error ? error.message : error}`);
  wrangler.kill("SIGTERM");
  process.exitCode = 1;
}
