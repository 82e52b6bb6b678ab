// What the benches that move chunks (ingest, package) share: a self-hosted workerd whose chunk disk
// service is also reachable directly on one more socket (the baseline's raw store), a user and a
// node enrolled by the agent's own enrolment, the headers of a chunk upload, and workerd's resident
// memory and CPU time from /proc.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { enrol } from "../pi-agent/lib/node/enroll.ts";

/** CPU seconds (user + system) a process has used so far (Linux /proc). */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMb(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Runs `fn` while sampling the process's RSS; returns fn's result and the peak RSS in MB. */
export async function withPeakRss(pid, fn) {
  let peak = rssMb(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 10);
  try {
    const result = await fn();
    return { result, peak: Math.max(peak, rssMb(pid)) };
  } finally {
    clearInterval(timer);
  }
}

export async function expectStatus(res, ...statuses) {
  if (!statuses.includes(res.status)) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/**
 * Starts the workerd and enrols the node. `stops` receives what to stop; `args` go to workerd (an
 * inspector address for a profile). The caller removes `work`.
 */
export async function startChunkBench({ name, vars = {}, args = [], stops }) {
  const secrets = randomSecrets();
  const work = mkdtempSync(join(tmpdir(), `lucid-bench-${name}-`));
  const port = await freePort();
  const storePort = await freePort();
  const { configPath, bundleDir } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "out"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${port}`,
    publicOrigin: `http://127.0.0.1:${port}`,
    vars: { RATE_LIMIT_PER_MINUTE: "100000000", LOG_LEVEL: "warn", ...vars },
  });
  // The self-hosted config binds the chunk directory's disk service as CHUNK_DISK (ours); the
  // baseline reaches the same disk service directly through one more socket.
  const config = readFileSync(configPath, "utf8");
  const withSocket = config.replace(
    /sockets = \[\n/,
    `sockets = [\n    (name = "chunks-http", address = "127.0.0.1:${storePort}", http = (), service = "chunk-disk"),\n`,
  );
  if (withSocket === config || !config.includes('service = "chunk-disk"')) throw new Error("unexpected workerd config layout");
  writeFileSync(configPath, withSocket);
  const workerd = startWorkerd(configPath, { env: secrets, args });
  stops.push(workerd.stop);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/health`).catch((error) => {
    throw new Error(`${error.message}\n${workerd.output()}`);
  });

  const now = Math.floor(Date.now() / 1000);
  const jwtSecret = secrets.JWT_SECRET_KEY;
  const user = await sign({ sub: "bench-user", role: "USER", iat: now, exp: now + 3600 }, jwtSecret, "HS256");
  // A node enrolled by the agent's own enrolment: its Ed25519 key, a credential issued by functions/nodes.
  const operator = await sign({ sub: "bench-operator", role: "NODE_OPERATOR", iat: now, exp: now + 3600 }, jwtSecret, "HS256");
  const enrolled = await enrol({
    server: base,
    operatorToken: operator,
    operatorId: "bench-operator",
    payoutAddress: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
    resources: { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 },
    stateDir: join(work, "node"),
  });
  const userHeaders = { Authorization: `Bearer ${user}`, "Content-Type": "application/json" };

  /** The headers of one chunk upload with this body, as the agent sends them. */
  function uploadHeaders(body) {
    return {
      Authorization: `Bearer ${enrolled.credential.token}`,
      "Content-Type": "application/octet-stream",
      "Content-Digest": `sha-256=:${createHash("sha256").update(body).digest("base64")}:`,
      "Lucid-Chunk-Nonce": "00".repeat(24),
      "Lucid-Plain-Size": String(body.length * 3),
      "Lucid-Compressed-Size": String(body.length - 16),
      "Lucid-Capture-Start": String(Date.now()),
      "Lucid-Capture-End": String(Date.now() + 60_000),
    };
  }

  return {
    work,
    base,
    storeUrl: `http://127.0.0.1:${storePort}`,
    bundleDir,
    workerd,
    user,
    nodeId: enrolled.nodeId,
    userHeaders,
    uploadHeaders,
  };
}
