import { mkdirSync, readdirSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { validateLegacyPorts, type LegacyPort } from "./legacy-ports.ts";
import type { WranglerConfig } from "./wrangler-config.ts";

/** Service binding through which the dashboard's files are read (a read-only disk service self-hosted). */
export const ASSETS_BINDING = "ASSETS";

/** Service binding through which the sessions code reaches the self-hosted chunk store (a disk service). */
export const CHUNK_DISK_BINDING = "CHUNK_DISK";

/** Directories under the data directory: DO SQLite files and encrypted chunks. workerd needs both to exist. */
export function dataLayout(dataDir: string): { durableObjects: string; chunks: string } {
  return { durableObjects: join(dataDir, "do"), chunks: join(dataDir, "chunks") };
}

/** Creates the data directory's layout (every directory the generated config names as a disk service). */
export function createDataLayout(dataDir: string): { durableObjects: string; chunks: string } {
  const layout = dataLayout(dataDir);
  for (const dir of Object.values(layout)) mkdirSync(dir, { recursive: true });
  return layout;
}

export interface HttpsSocket {
  /** host:port, e.g. "0.0.0.0:8443". */
  address: string;
  /** Absolute paths of the PEM certificate chain and private key (embedded at start-up). */
  certPath: string;
  keyPath: string;
}

export interface LegacySockets {
  /** Interface the legacy ports listen on, e.g. "127.0.0.1" or "0.0.0.0". */
  host: string;
  ports: readonly LegacyPort[];
  /** Absolute path of workers/legacy-router.js (copied next to the config by the build). */
  routerPath: string;
}

export interface WorkerdConfigOptions {
  wrangler: WranglerConfig;
  /** `wrangler deploy --dry-run --outdir` output: index.js plus the text modules it imports. */
  bundleDir: string;
  /** Directory the config file is written to: capnp resolves `embed` paths relative to it. */
  configDir: string;
  /** Absolute directory for Durable Object SQLite files (one directory belongs to one workerd process). */
  dataDir: string;
  /** host:port of the plain-HTTP socket, e.g. "127.0.0.1:8080". */
  httpAddress: string;
  /** Extra or overriding [vars] (e.g. LUCID_ENV=production). */
  vars?: Record<string, string>;
  /** Secret names bound with fromEnvironment: read from workerd's environment at start. */
  secrets: readonly string[];
  /**
   * Address classes outbound fetch may reach (workerd's network `allow`, e.g. ["public", "local"]
   * for a TRON node on the same machine). Unset: workerd's default, public addresses only.
   */
  outboundAllow?: readonly string[];
  /** Absolute directory of the built dashboard (functions/dashboard), served through ASSETS; omitted, no dashboard. */
  assetsDir?: string;
  /** The HTTPS socket for the Electron GUI and browsers; omitted, only plain HTTP is served. */
  https?: HttpsSocket;
  /** The seed's per-service ports, each routed onto its surface (docs/self-hosting.md "Legacy port map"). */
  legacy?: LegacySockets;
}

const ADDRESS = /^([^\s:\[\]]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

function portOf(address: string, what: string): number {
  const match = ADDRESS.exec(address);
  const port = match ? Number(match[2]) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`${what} must be host:port (got "${address}")`);
  return port;
}

const capnpString = (value: string) => JSON.stringify(value);

/**
 * Writes a workerd capnp config that runs the same bundle wrangler deploys. Durable Object
 * namespaces use the uniqueKey `<worker name>-<Class>`, which is what wrangler dev uses, so
 * state files carry over and never get orphaned (never change a uniqueKey).
 */
export function generateWorkerdConfig(options: WorkerdConfigOptions): string {
  const { wrangler, bundleDir, dataDir } = options;
  if (!isAbsolute(dataDir)) throw new Error(`dataDir must be an absolute path (got "${dataDir}")`);
  if (!isAbsolute(bundleDir)) throw new Error(`bundleDir must be an absolute path (got "${bundleDir}")`);
  const httpPort = portOf(options.httpAddress, "httpAddress");
  const httpsPort = options.https ? portOf(options.https.address, "https.address") : undefined;
  if (httpsPort === httpPort) throw new Error(`the HTTP and HTTPS sockets both use port ${httpPort}`);
  if (options.assetsDir !== undefined && !isAbsolute(options.assetsDir)) {
    throw new Error(`assetsDir must be an absolute path (got "${options.assetsDir}")`);
  }
  for (const path of options.https ? [options.https.certPath, options.https.keyPath] : []) {
    if (!isAbsolute(path)) throw new Error(`TLS file paths must be absolute (got "${path}")`);
  }

  const files = readdirSync(bundleDir);
  if (!files.includes("index.js")) throw new Error(`${bundleDir} has no index.js: run the bundle step first`);
  const embed = (file: string) => `embed ${capnpString(relative(options.configDir, join(bundleDir, file)))}`;
  const modules = [
    `(name = "index.js", esModule = ${embed("index.js")})`,
    ...files
      .filter((file) => file.endsWith(".sql"))
      .sort()
      .map((file) => `(name = ${capnpString(file)}, text = ${embed(file)})`),
  ];

  const legacyPorts = legacySocketsOf(options.legacy, httpPort, httpsPort);
  const layout = dataLayout(dataDir);
  const vars = { ...wrangler.vars, ...options.vars };
  const bindings = [
    ...Object.entries(vars).map(([name, value]) => `(name = ${capnpString(name)}, text = ${capnpString(value)})`),
    ...options.secrets.map((name) => `(name = ${capnpString(name)}, fromEnvironment = ${capnpString(name)})`),
    ...wrangler.durableObjects.map((d) => `(name = ${capnpString(d.binding)}, durableObjectNamespace = ${capnpString(d.className)})`),
    `(name = ${capnpString(CHUNK_DISK_BINDING)}, service = "chunk-disk")`,
    ...(options.assetsDir ? [`(name = ${capnpString(ASSETS_BINDING)}, service = "dashboard-assets")`] : []),
  ];
  const namespaces = wrangler.durableObjects.map(
    (d) => `(className = ${capnpString(d.className)}, uniqueKey = ${capnpString(`${wrangler.name}-${d.className}`)}, enableSql = true)`,
  );

  // No socket sets HttpOptions.cfBlobHeader: without one workerd fills request.cf with
  // {"clientIp": "<socket peer>"} itself, which is the self-hosted client address; with one it
  // would read request.cf from a header any client can send (docs/gateway.md).
  const sockets = [`(name = "http", address = ${capnpString(options.httpAddress)}, http = (), service = "lucid")`];
  if (options.https) {
    const { address, certPath, keyPath } = options.https;
    sockets.push(
      `(name = "https", address = ${capnpString(address)}, service = "lucid",\n     https = (options = (), tlsOptions = (keypair = (privateKey = ${embedFile(options.configDir, keyPath)}, certificateChain = ${embedFile(options.configDir, certPath)}))))`,
    );
  }
  for (const p of legacyPorts) {
    sockets.push(
      `(name = "legacy-${p.name}", address = ${capnpString(`${options.legacy!.host}:${p.port}`)}, http = (), service = "legacy-${p.name}")`,
    );
  }
  const routers = legacyPorts.map(
    (p) => `
const legacy${pascal(p.name)} :Workerd.Worker = (
  modules = [(name = "legacy-router.js", esModule = ${embedFile(options.configDir, options.legacy!.routerPath)})],
  compatibilityDate = ${capnpString(wrangler.compatibilityDate)},
  bindings = [(name = "LUCID", service = "lucid"), (name = "TARGET", text = ${capnpString(p.target)})],
);
`,
  );

  return `# Generated by edge-adapter from wrangler.toml; do not edit (npm run pi:build regenerates it).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "lucid", worker = .lucidWorker),
    (name = "do-storage", disk = (path = ${capnpString(layout.durableObjects)}, writable = true)),
    (name = "chunk-disk", disk = (path = ${capnpString(layout.chunks)}, writable = true)),${
      options.assetsDir ? `\n    (name = "dashboard-assets", disk = (path = ${capnpString(options.assetsDir)}, writable = false)),` : ""
    }${legacyPorts.map((p) => `\n    (name = "legacy-${p.name}", worker = .legacy${pascal(p.name)}),`).join("")}${
      options.outboundAllow ? `\n    (name = "outbound", network = (allow = [${options.outboundAllow.map(capnpString).join(", ")}])),` : ""
    }
  ],
  sockets = [
    ${sockets.join(",\n    ")}
  ],
);

const lucidWorker :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")}
  ],
  compatibilityDate = ${capnpString(wrangler.compatibilityDate)},
  compatibilityFlags = [${wrangler.compatibilityFlags.map(capnpString).join(", ")}],
  bindings = [
    ${bindings.join(",\n    ")}
  ],
  durableObjectNamespaces = [
    ${namespaces.join(",\n    ")}
  ],
  durableObjectStorage = (localDisk = "do-storage"),${options.outboundAllow ? `\n  globalOutbound = "outbound",` : ""}
);
${routers.join("")}`;
}

function embedFile(configDir: string, path: string): string {
  return `embed ${capnpString(relative(configDir, path))}`;
}

const pascal = (name: string) => name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

/**
 * The legacy sockets to open. The gateway's identity mapping on the HTTP socket's own port is
 * already served by that socket, so it is skipped; any other clash is a configuration error.
 */
function legacySocketsOf(legacy: LegacySockets | undefined, httpPort: number, httpsPort: number | undefined): LegacyPort[] {
  if (!legacy) return [];
  validateLegacyPorts(legacy.ports);
  if (!isAbsolute(legacy.routerPath)) throw new Error(`routerPath must be absolute (got "${legacy.routerPath}")`);
  portOf(`${legacy.host}:1`, "legacy host");
  return legacy.ports.filter((p) => {
    if (p.port === httpPort && p.target === "/api/v1") return false;
    if (p.port === httpPort || p.port === httpsPort) {
      throw new Error(`legacy port ${p.name} (${p.port}) clashes with the HTTP or HTTPS socket`);
    }
    return true;
  });
}
