#!/usr/bin/env node
// npm run pi:build — bundles the Worker exactly as `wrangler deploy` would and writes a workerd
// config that serves it self-hosted (see README "Self-hosted on a Pi").
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SECRET_NAMES } from "./secrets.ts";
import { readWranglerConfig } from "./wrangler-config.ts";
import { generateWorkerdConfig } from "./workerd-config.ts";

export interface BuildOptions {
  root: string;
  outDir: string;
  dataDir: string;
  httpAddress: string;
  vars?: Record<string, string>;
}

export function buildSelfHosted(options: BuildOptions): { configPath: string; bundleDir: string } {
  const bundleDir = join(options.outDir, "bundle");
  rmSync(bundleDir, { recursive: true, force: true });
  const binDir = join(options.root, "node_modules", ".bin");
  const wranglerBin = join(binDir, "wrangler");
  const bundle = spawnSync(wranglerBin, ["deploy", "--dry-run", "--outdir", bundleDir], {
    cwd: options.root,
    encoding: "utf8",
    // node_modules/.bin first: wrangler needs the Node 22 the node@22 devDependency installs there.
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error" },
  });
  if (bundle.status !== 0) throw new Error(`wrangler bundle failed:\n${bundle.stderr || bundle.stdout}`);
  const wrangler = readWranglerConfig(join(options.root, "wrangler.toml"));
  mkdirSync(join(options.dataDir, "do"), { recursive: true });
  const configPath = join(options.outDir, "lucid.capnp");
  writeFileSync(
    configPath,
    generateWorkerdConfig({
      wrangler,
      bundleDir,
      configDir: options.outDir,
      dataDir: options.dataDir,
      httpAddress: options.httpAddress,
      vars: { LUCID_ENV: "production", ...options.vars },
      secrets: SECRET_NAMES,
    }),
  );
  return { configPath, bundleDir };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: "string", default: "out/pi" },
      "data-dir": { type: "string", default: "/var/lib/lucid" },
      http: { type: "string", default: "127.0.0.1:8080" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("usage: npm run pi:build -- [--out out/pi] [--data-dir /var/lib/lucid] [--http 127.0.0.1:8080]");
    process.exit(0);
  }
  const root = resolve(import.meta.dirname, "..");
  try {
    const { configPath } = buildSelfHosted({
      root,
      outDir: resolve(values.out!),
      dataDir: resolve(values["data-dir"]!),
      httpAddress: values.http!,
    });
    console.log(`workerd config written to ${configPath}\nstart it with: npm run pi:start -- ${configPath}`);
  } catch (error) {
    console.error(`pi:build failed: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}
