// BENCH package: MB/s of chunk bytes streamed by GET /api/v1/sessions/:id/package (gateway, SessionDO and
// ChainDO reads, the chain's headers, proofs, logs, verify.html, then each chunk piped from the chunk store
// into the ustar stream) for a 1-hour recording of the agent's workload (28.8 MB sealed, bench/README.md
// agent-recording-size: 10 MB chunks), vs. raw GETs of the same bytes straight from the same store, in the
// same workerd process and run (target ≥ 0.8). Also reports workerd's resident memory while each side reads:
// the package is streamed, never held whole. Built from bench/ingest.mjs's set-up.
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadavg } from "node:os";
import { freePort } from "../edge-adapter/workerd-process.ts";
import { chunkPath } from "../shared/package/format.ts";
import { bytesSource, listTar } from "../shared/package/tar.ts";
import { startProfile, summarise } from "./cpu-profile.mjs";
import { cpuSeconds, expectStatus, rssMb, startChunkBench, withPeakRss } from "./chunk-store-setup.mjs";

const CHUNK_BYTES = Number(process.env.BENCH_CHUNK_BYTES ?? 10 * 1024 * 1024);
const RECORDING_BYTES = Number(process.env.BENCH_PACKAGE_BYTES ?? 28.8 * 1024 * 1024);
const CHUNKS = Math.max(1, Math.ceil(RECORDING_BYTES / CHUNK_BYTES));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const stops = [];
let work;

try {
  // BENCH_PROFILE=1: a CPU profile of the Worker during the last round of ours (bench/cpu-profile.mjs).
  const inspector = process.env.BENCH_PROFILE === "1" ? `127.0.0.1:${await freePort()}` : undefined;
  const bench = await startChunkBench({
    name: "package",
    vars: { BLOCK_INTERVAL_SECONDS: "1" },
    args: inspector ? [`--inspector-addr=${inspector}`] : [],
    stops,
  });
  ({ work } = bench);
  const { base, storeUrl, bundleDir, workerd, user, nodeId, userHeaders } = bench;
  const body = randomBytes(CHUNK_BYTES);
  const uploadHeaders = bench.uploadHeaders(body);

  const userOnly = { Authorization: `Bearer ${user}` };
  const created = await fetch(`${base}/api/v1/sessions`, {
    method: "POST",
    headers: userHeaders,
    body: JSON.stringify({ nodeId, title: "package bench" }),
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}\n${workerd.output()}`);
  const { id } = await created.json();
  await expectStatus(await fetch(`${base}/api/v1/sessions/${id}/start`, { method: "POST", headers: userHeaders }), 200);
  for (let i = 0; i < CHUNKS; i++) {
    const res = await fetch(`${base}/api/v1/sessions/${id}/chunks/${i}`, { method: "PUT", headers: uploadHeaders, body });
    await expectStatus(res, 201);
    // The same bytes once more, straight into the store, for the baseline's reads.
    await expectStatus(
      await fetch(`${storeUrl}/raw/${i}`, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body }),
      200,
      201,
      204,
    );
  }
  await expectStatus(
    await fetch(`${base}/api/v1/sessions/${id}/stop`, {
      method: "POST",
      headers: userHeaders,
      body: JSON.stringify({ chunkCount: CHUNKS }),
    }),
    200,
  );
  for (let state = ""; state !== "completed";) {
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
    for (let i = 0; i < CHUNKS; i++) await drain(await fetch(`${storeUrl}/raw/${i}`));
    return chunkBytes / 1e6 / ((performance.now() - started) / 1000);
  }

  // Once, outside the timing: the package's chunks are the stored bytes, block for block.
  {
    const pkg = new Uint8Array(await (await fetch(`${base}/api/v1/sessions/${id}/package`, { headers: userOnly })).arrayBuffer());
    const members = await listTar(bytesSource(pkg));
    for (let i = 0; i < CHUNKS; i++) {
      const m = members.find((x) => x.name === chunkPath(i));
      if (!m || Buffer.compare(pkg.subarray(m.offset, m.offset + m.size), body) !== 0) throw new Error(`chunk ${i} differs in the package`);
    }
  }
  // Warm-up, then alternate so both sides see the same machine conditions; keep the median.
  await ours();
  await baseline();
  const idle = rssMb(workerd.child.pid);
  const oursRuns = [];
  const baseRuns = [];
  let oursPeak = 0;
  let basePeak = 0;
  const oursCpu = [];
  const baseCpu = [];
  const pid = workerd.child.pid;
  for (let r = 0; r < ROUNDS; r++) {
    let before = cpuSeconds(pid);
    const b = await withPeakRss(pid, baseline);
    baseCpu.push(cpuSeconds(pid) - before);
    baseRuns.push(b.result);
    basePeak = Math.max(basePeak, b.peak);
    const profiler = inspector && r === ROUNDS - 1 ? await startProfile(inspector, "lucid") : undefined;
    before = cpuSeconds(pid);
    const o = await withPeakRss(pid, ours);
    oursCpu.push(cpuSeconds(pid) - before);
    if (profiler)
      console.log(
        `package profile (self time, ours):\n${summarise(await profiler.stop(), 20, readFileSync(join(bundleDir, "index.js"), "utf8"))}`,
      );
    oursRuns.push(o.result);
    oursPeak = Math.max(oursPeak, o.peak);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  // workerd CPU per MB of chunks (less sensitive to a busy machine than wall time).
  const cpuMsPerMb = (secs) => (median(secs) * 1000) / (chunkBytes / 1e6);
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
  console.log(
    `BENCH package ours=${oursMBs.toFixed(1)} baseline=${baseMBs.toFixed(1)} ratio=${(oursMBs / baseMBs).toFixed(3)} unit=MB/s ` +
      `cpu_ms_per_mb=${cpuMsPerMb(oursCpu).toFixed(2)} baseline_cpu_ms_per_mb=${cpuMsPerMb(baseCpu).toFixed(2)} load=${loadavg()[0].toFixed(2)}`,
  );
} finally {
  for (const stop of stops) await stop();
  if (work) rmSync(work, { recursive: true, force: true });
}
