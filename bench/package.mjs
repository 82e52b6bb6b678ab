// BENCH package: MB/s of chunk bytes streamed by GET /api/v1/sessions/:id/package (gateway, SessionDO and
// ChainDO reads, the chain's headers, proofs, logs, verify.html, then each chunk piped from the chunk store
// into the ustar stream) for a 1-hour recording of the agent's workload (28.8 MB sealed, bench/README.md
// agent-recording-size: 10 MB chunks), vs. raw GETs of the same bytes straight from the same store, in the
// same workerd process and run (target ≥ 0.8). Also reports workerd's resident memory while each side reads:
// the package is streamed, never held whole. Built from bench/ingest.mjs's set-up.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { enrol } from "../pi-agent/lib/node/enroll.ts";

const CHUNK_BYTES = Number(process.env.BENCH_CHUNK_BYTES ?? 10 * 1024 * 1024);
const RECORDING_BYTES = Number(process.env.BENCH_PACKAGE_BYTES ?? 28.8 * 1024 * 1024);
const CHUNKS = Math.max(1, Math.ceil(RECORDING_BYTES / CHUNK_BYTES));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const secrets = randomSecrets();
const jwtSecret = secrets.JWT_SECRET_KEY;
const work = mkdtempSync(join(tmpdir(), "lucid-bench-package-"));
const stops = [];

function rssMb(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Runs `fn` while sampling the process's RSS; returns fn's result and the peak RSS in MB. */
async function withPeakRss(pid, fn) {
  let peak = rssMb(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 10);
  try {
    const result = await fn();
    return { result, peak: Math.max(peak, rssMb(pid)) };
  } finally {
    clearInterval(timer);
  }
}

async function expectStatus(res, ...statuses) {
  if (!statuses.includes(res.status)) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

try {
  const port = await freePort();
  const storePort = await freePort();
  const { configPath } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "out"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${port}`,
    publicOrigin: `http://127.0.0.1:${port}`,
    vars: { RATE_LIMIT_PER_MINUTE: "100000000", LOG_LEVEL: "warn", BLOCK_INTERVAL_SECONDS: "1" },
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
  const workerd = startWorkerd(configPath, { env: secrets });
  stops.push(workerd.stop);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/health`).catch((error) => {
    throw new Error(`${error.message}\n${workerd.output()}`);
  });

  const now = Math.floor(Date.now() / 1000);
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
  const nodeId = enrolled.nodeId;
  const node = enrolled.credential.token;
  const userHeaders = { Authorization: `Bearer ${user}`, "Content-Type": "application/json" };

  const body = randomBytes(CHUNK_BYTES);
  const digest = `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
  const uploadHeaders = {
    Authorization: `Bearer ${node}`,
    "Content-Type": "application/octet-stream",
    "Content-Digest": digest,
    "Lucid-Chunk-Nonce": "00".repeat(24),
    "Lucid-Plain-Size": String(CHUNK_BYTES * 3),
    "Lucid-Compressed-Size": String(CHUNK_BYTES - 16),
    "Lucid-Capture-Start": String(Date.now()),
    "Lucid-Capture-End": String(Date.now() + 60_000),
  };

  const userOnly = { Authorization: `Bearer ${user}` };
  const created = await fetch(`${base}/api/v1/sessions`, { method: "POST", headers: userHeaders, body: JSON.stringify({ nodeId, title: "package bench" }) });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}\n${workerd.output()}`);
  const { id } = await created.json();
  await expectStatus(await fetch(`${base}/api/v1/sessions/${id}/start`, { method: "POST", headers: userHeaders }), 200);
  for (let i = 0; i < CHUNKS; i++) {
    const res = await fetch(`${base}/api/v1/sessions/${id}/chunks/${i}`, { method: "PUT", headers: uploadHeaders, body });
    await expectStatus(res, 201);
    // The same bytes once more, straight into the store, for the baseline's reads.
    await expectStatus(await fetch(`http://127.0.0.1:${storePort}/raw/${i}`, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body }), 200, 201, 204);
  }
  await expectStatus(await fetch(`${base}/api/v1/sessions/${id}/stop`, { method: "POST", headers: userHeaders, body: JSON.stringify({ chunkCount: CHUNKS }) }), 200);
  for (let state = ""; state !== "completed"; ) {
    state = (await (await fetch(`${base}/api/v1/sessions/${id}`, { headers: userOnly })).json()).state;
    if (state !== "completed") await new Promise((resolve) => setTimeout(resolve, 200)); // polling the anchor, not timing
  }
  const chunkBytes = CHUNKS * CHUNK_BYTES;

  async function drain(res) {
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    let n = 0;
    for await (const piece of res.body) n += piece.length;
    return n;
  }

  async function ours() {
    const started = performance.now();
    const n = await drain(await fetch(`${base}/api/v1/sessions/${id}/package`, { headers: userOnly }));
    if (n < chunkBytes) throw new Error(`the package has ${n} bytes, fewer than its chunks`);
    return chunkBytes / 1e6 / ((performance.now() - started) / 1000);
  }

  async function baseline() {
    const started = performance.now();
    for (let i = 0; i < CHUNKS; i++) await drain(await fetch(`http://127.0.0.1:${storePort}/raw/${i}`));
    return chunkBytes / 1e6 / ((performance.now() - started) / 1000);
  }

  // Warm-up, then alternate so both sides see the same machine conditions; keep the median.
  await ours();
  await baseline();
  const idle = rssMb(workerd.child.pid);
  const oursRuns = [];
  const baseRuns = [];
  let oursPeak = 0;
  let basePeak = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const b = await withPeakRss(workerd.child.pid, baseline);
    baseRuns.push(b.result);
    basePeak = Math.max(basePeak, b.peak);
    const o = await withPeakRss(workerd.child.pid, ours);
    oursRuns.push(o.result);
    oursPeak = Math.max(oursPeak, o.peak);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const oursMBs = median(oursRuns);
  const baseMBs = median(baseRuns);
  console.log(
    `package: ${CHUNKS} × ${(CHUNK_BYTES / 1048576).toFixed(0)} MiB chunks, ${ROUNDS} rounds; ` +
      `ours ${oursRuns.map((x) => x.toFixed(1)).join("/")} MB/s, raw store ${baseRuns.map((x) => x.toFixed(1)).join("/")} MB/s`,
  );
  console.log(
    `memory: workerd RSS idle ${idle.toFixed(1)} MB; peak while packing ${oursPeak.toFixed(1)} MB ` +
      `(+${(oursPeak - idle).toFixed(1)}), during raw store reads ${basePeak.toFixed(1)} MB (+${(basePeak - idle).toFixed(1)})`,
  );
  console.log(`BENCH package ours=${oursMBs.toFixed(1)} baseline=${baseMBs.toFixed(1)} ratio=${(oursMBs / baseMBs).toFixed(3)} unit=MB/s`);
} finally {
  for (const stop of stops) await stop();
  rmSync(work, { recursive: true, force: true });
}
