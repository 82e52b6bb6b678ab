#!/usr/bin/env node
// npm run pi:start -- [--check-only] [config] — runs the generated workerd config with the
// npm-installed workerd, after checking that every secret is in the environment (workerd would
// bind null otherwise). --check-only stops after the checks (the systemd unit's ExecStartPre).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { missingSecrets } from "./secrets.ts";

const root = resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);
const checkOnly = args[0] === "--check-only";
const config = resolve((checkOnly ? args[1] : args[0]) ?? "out/pi/lucid.capnp");
if (!existsSync(config)) {
  console.error(`pi:start: ${config} does not exist; run npm run pi:build first`);
  process.exit(2);
}
const missing = missingSecrets(process.env);
if (missing.length > 0) {
  console.error(`pi:start: missing secret(s) in the environment: ${missing.join(", ")} (see docs/configuration.md)`);
  process.exit(2);
}
if (checkOnly) process.exit(0);
const workerd = spawn(join(root, "node_modules", ".bin", "workerd"), ["serve", config], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => workerd.kill(signal));
workerd.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
