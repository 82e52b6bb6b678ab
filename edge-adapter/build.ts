#!/usr/bin/env node
// npm run pi:build — bundles the Worker exactly as `wrangler deploy` would and writes a workerd
// config that serves it self-hosted (see docs/self-hosting.md).
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { OPTIONAL_SECRET_NAMES, SECRET_NAMES } from "./secrets.ts";
import { readWranglerConfig } from "./wrangler-config.ts";
import { LEGACY_PORTS, type LegacyPort } from "./legacy-ports.ts";
import { CERT_FILE, KEY_FILE } from "./tls.ts";
import { buildDashboard } from "./dashboard.ts";
import { createDataLayout, generateWorkerdConfig } from "./workerd-config.ts";
import { parseCidr } from "../shared/ip.ts";
import { publicOrigin } from "../shared/public-origin.ts";

export interface BuildOptions {
  root: string;
  outDir: string;
  dataDir: string;
  httpAddress: string;
  /**
   * PUBLIC_ORIGIN, the origin users reach (https, or http on loopback): required, since the
   * self-hosted build runs in production. Mail links and the login message name it.
   */
  publicOrigin: string;
  /** TRUSTED_PROXIES: CIDRs of reverse proxies in front of workerd whose X-Forwarded-For is believed. */
  trustedProxies?: string;
  vars?: Record<string, string>;
  /** HTTPS socket address and the directory `npm run pi:cert` wrote cert.pem and key.pem to. */
  https?: { address: string; tlsDir: string };
  /** Legacy per-service ports (default map: LEGACY_PORTS) on `host`. */
  legacy?: { host: string; ports?: readonly LegacyPort[] };
  /** See WorkerdConfigOptions.outboundAllow. */
  outboundAllow?: readonly string[];
  /** Rebuild the dashboard even when out/dashboard exists (the CLI does; tests reuse the build npm test made). */
  rebuildDashboard?: boolean;
}

export function buildSelfHosted(options: BuildOptions): { configPath: string; bundleDir: string } {
  if (!options.publicOrigin)
    throw new Error("--public-origin (or PUBLIC_ORIGIN) is required: the origin users reach, such as https://pi.example:8443");
  const origin = publicOrigin.safeParse(options.publicOrigin);
  if (!origin.success)
    throw new Error(`--public-origin ${origin.error.issues[0]?.message ?? "is invalid"} (got "${options.publicOrigin}")`);
  for (const range of (options.trustedProxies ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    try {
      parseCidr(range);
    } catch (error) {
      throw new Error(`--trusted-proxies: ${(error as Error).message}`);
    }
  }
  const bundleDir = join(options.outDir, "bundle");
  rmSync(bundleDir, { recursive: true, force: true });
  // The dashboard first: wrangler's bundle step needs the [assets] directory to exist.
  const dashboard = buildDashboard(options.root, { ifMissing: !options.rebuildDashboard });
  const assetsDir = join(options.outDir, "dashboard");
  rmSync(assetsDir, { recursive: true, force: true });
  cpSync(dashboard, assetsDir, { recursive: true });
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
  createDataLayout(options.dataDir);
  let https;
  if (options.https) {
    const certPath = join(options.https.tlsDir, CERT_FILE);
    const keyPath = join(options.https.tlsDir, KEY_FILE);
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      throw new Error(`no ${CERT_FILE}/${KEY_FILE} in ${options.https.tlsDir}: run npm run pi:cert first (or pass --https off)`);
    }
    https = { address: options.https.address, certPath, keyPath };
  }
  let legacy;
  if (options.legacy) {
    // The router travels with the config, so out/pi is self-contained.
    const routerPath = join(options.outDir, "legacy-router.js");
    copyFileSync(join(import.meta.dirname, "workers", "legacy-router.js"), routerPath);
    legacy = { host: options.legacy.host, ports: options.legacy.ports ?? LEGACY_PORTS, routerPath };
  }
  const configPath = join(options.outDir, "lucid.capnp");
  writeFileSync(
    configPath,
    generateWorkerdConfig({
      wrangler,
      bundleDir,
      configDir: options.outDir,
      dataDir: options.dataDir,
      httpAddress: options.httpAddress,
      // The client address is workerd's socket peer (request.cf.clientIp); the sockets carry no
      // cfBlobHeader, so no client can set request.cf (docs/gateway.md).
      vars: {
        LUCID_ENV: "production",
        PUBLIC_ORIGIN: origin.data,
        CLIENT_ADDRESS_SOURCE: "socket",
        ...(options.trustedProxies ? { TRUSTED_PROXIES: options.trustedProxies } : {}),
        ...options.vars,
      },
      secrets: [...SECRET_NAMES, ...OPTIONAL_SECRET_NAMES],
      assetsDir: resolve(assetsDir),
      https,
      legacy,
      ...(options.outboundAllow ? { outboundAllow: options.outboundAllow } : {}),
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
      https: { type: "string", default: "0.0.0.0:8443" },
      "tls-dir": { type: "string", default: "out/pi/tls" },
      "legacy-ports": { type: "boolean", default: false },
      "legacy-host": { type: "string", default: "127.0.0.1" },
      "public-origin": { type: "string", default: process.env.PUBLIC_ORIGIN },
      "trusted-proxies": { type: "string", default: process.env.TRUSTED_PROXIES },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`usage: npm run pi:build -- --public-origin https://pi.example:8443 [--trusted-proxies CIDR,…]
         [--out out/pi] [--data-dir /var/lib/lucid] [--http 127.0.0.1:8080]
         [--https 0.0.0.0:8443 | --https off] [--tls-dir out/pi/tls] [--legacy-ports [--legacy-host 127.0.0.1]]
  --public-origin (or PUBLIC_ORIGIN): the origin users reach; mail links and the login message name it.
  --trusted-proxies (or TRUSTED_PROXIES): reverse proxies in front of workerd whose X-Forwarded-For counts.`);
    process.exit(0);
  }
  const root = resolve(import.meta.dirname, "..");
  try {
    const { configPath } = buildSelfHosted({
      root,
      outDir: resolve(values.out!),
      dataDir: resolve(values["data-dir"]!),
      httpAddress: values.http!,
      publicOrigin: values["public-origin"] ?? "",
      ...(values["trusted-proxies"] ? { trustedProxies: values["trusted-proxies"] } : {}),
      https: values.https === "off" ? undefined : { address: values.https!, tlsDir: resolve(values["tls-dir"]!) },
      legacy: values["legacy-ports"] ? { host: values["legacy-host"]! } : undefined,
      rebuildDashboard: true,
    });
    console.log(`workerd config written to ${configPath}\nstart it with: npm run pi:start -- ${configPath}`);
  } catch (error) {
    console.error(`pi:build failed: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}
