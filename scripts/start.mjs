#!/usr/bin/env node
// npm start: serves Lucid locally with `wrangler dev` (state persisted under .wrangler/state),
// creating .dev.vars with random secrets on first run and seeding demo data idempotently.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { ensureDevVars } from "./dev-vars.mjs";
import { demoDevVars, demoIdentityStore, seedDemo } from "./seed-demo.ts";
import { buildDashboard } from "../edge-adapter/dashboard.ts";

const root = new URL("..", import.meta.url).pathname;
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? "127.0.0.1";
const base = `http://${host}:${port}`;
// PUBLIC_ORIGIN: what links and the login message name (shared/config.ts). On loopback it is this
// server; on any other HOST wrangler dev still serves plain HTTP, so links stay on loopback unless
// PUBLIC_ORIGIN names the https origin in front of it.
const loopback = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/.test(host);
const publicOrigin = process.env.PUBLIC_ORIGIN || (loopback ? base.replace(/^http:\/\/::1:/, "http://[::1]:") : `http://127.0.0.1:${port}`);
if (!loopback) {
  console.warn(
    `npm start: serving on ${host}, not loopback. Links and the login message name ${publicOrigin}` +
      (process.env.PUBLIC_ORIGIN ? "" : " (set PUBLIC_ORIGIN=https://… for others)") +
      ". wrangler dev passes a client's own CF-Connecting-IP through, so client addresses (quotas, audit)" +
      " are what clients say: use the self-hosted build (npm run pi:build) for anything but development.",
  );
}

// Refuse a busy port up front: otherwise the health wait would find the other server and seed it.
await new Promise((resolve) => {
  const probe = createServer();
  probe.once("error", (error) => {
    console.error(`npm start: ${host}:${port} is in use (${error.code}); stop that server or choose another with PORT=…`);
    process.exit(1);
  });
  probe.listen(port, host, () => probe.close(resolve));
});

const demoStore = demoIdentityStore(root);
const added = ensureDevVars(join(root, ".dev.vars"), demoDevVars(demoStore.loadOrCreate()));
if (added.length) console.log(`.dev.vars: added ${added.join(", ")}`);

console.log("building the dashboard (out/dashboard)…");
buildDashboard(root);

const wrangler = spawn(
  join(root, "node_modules", ".bin", "wrangler"),
  [
    "dev",
    "--ip",
    host,
    "--port",
    String(port),
    "--persist-to",
    join(root, ".wrangler", "state"),
    "--show-interactive-dev-session=false",
    "--var",
    `PUBLIC_ORIGIN:${publicOrigin}`,
  ],
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
  await seedDemo(base, demoStore);
  console.log(`\nLucid is running at ${base}\n  dashboard: ${base}/\n  health:  ${base}/health\n  OpenAPI: ${base}/api/v1/openapi.json\n`);
} catch (error) {
  console.error(`npm start: ${error instanceof Error ? error.message : error}`);
  wrangler.kill("SIGTERM");
  process.exitCode = 1;
}
