// BENCH ingest: MB/s of 10 MB chunk uploads through the API (PUT /api/v1/sessions/:id/chunks/:i:
// gateway, node credential, SessionDO begin/commit, SHA-256 while streaming) into the chunk store,
// vs. raw PUTs of the same bytes straight into the same store, in the same workerd process and run.
// The store is the self-hosted one (the edge adapter's chunk disk service), so both sides write the same files.
// Also reports the workerd process's resident memory while each side uploads.
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { freePort } from "../edge-adapter/workerd-process.ts";
import { cpuSeconds, expectStatus, rssMb, startChunkBench, withPeakRss } from "./chunk-store-setup.mjs";
import { startProfile, summarise } from "./cpu-profile.mjs";

const CHUNK_BYTES = Number(process.env.BENCH_CHUNK_BYTES ?? 10 * 1024 * 1024);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const stops = [];
let work;

try {
  // BENCH_PROFILE=1: a CPU profile of the Worker during the last round of ours (bench/cpu-profile.mjs).
  const inspector = process.env.BENCH_PROFILE === "1" ? `127.0.0.1:${await freePort()}` : undefined;
  const bench = await startChunkBench({ name: "ingest", args: inspector ? [`--inspector-addr=${inspector}`] : [], stops });
  ({ work } = bench);
  const { base, storeUrl, bundleDir, workerd, nodeId, userHeaders } = bench;
  const body = randomBytes(CHUNK_BYTES);
  const uploadHeaders = bench.uploadHeaders(body);

  async function newRecordingSession() {
    const created = await fetch(`${base}/api/v1/sessions`, {
      method: "POST",
      headers: userHeaders,
      body: JSON.stringify({ nodeId, title: "ingest bench" }),
    });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}\n${workerd.output()}`);
    const { id } = await created.json();
    await expectStatus(await fetch(`${base}/api/v1/sessions/${id}/start`, { method: "POST", headers: userHeaders }), 200);
    return id;
  }

  let oursCpuStart = 0;
  // The route's Server-Timing: wall ms in the SessionDO's begin, the hashed store write and the
  // commit; and the whole request as the client sees it (the rest is middleware and transport).
  const phases = {};
  let timedUploads = 0;
  async function ours() {
    const id = await newRecordingSession();
    oursCpuStart = cpuSeconds(workerd.child.pid); // the uploads only, not the session's creation
    const started = performance.now();
    timedUploads += CHUNKS;
    for (let i = 0; i < CHUNKS; i++) {
      const sent = performance.now();
      const res = await fetch(`${base}/api/v1/sessions/${id}/chunks/${i}`, { method: "PUT", headers: uploadHeaders, body });
      await expectStatus(res, 201);
      phases.total = (phases.total ?? 0) + (performance.now() - sent);
      for (const [, name, ms] of (res.headers.get("Server-Timing") ?? "").matchAll(/(\w+);dur=(\d+)/g)) {
        phases[name] = (phases[name] ?? 0) + Number(ms);
      }
    }
    return (CHUNKS * CHUNK_BYTES) / 1e6 / ((performance.now() - started) / 1000);
  }

  let round = 0;
  async function baseline() {
    round++;
    const started = performance.now();
    for (let i = 0; i < CHUNKS; i++) {
      const res = await fetch(`${storeUrl}/raw/${round}/${i}`, {
        method: "PUT",
        headers: { "Content-Type": "application/octet-stream" },
        body,
      });
      await expectStatus(res, 200, 201, 204);
    }
    return (CHUNKS * CHUNK_BYTES) / 1e6 / ((performance.now() - started) / 1000);
  }

  // Warm-up, then alternate so both sides see the same machine conditions; keep the median.
  await ours();
  await baseline();
  const idle = rssMb(workerd.child.pid);
  const oursRuns = [];
  const baseRuns = [];
  const oursCpu = [];
  const baseCpu = [];
  let oursPeak = 0;
  let basePeak = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const baseCpuBefore = cpuSeconds(workerd.child.pid);
    const b = await withPeakRss(workerd.child.pid, baseline);
    baseCpu.push(cpuSeconds(workerd.child.pid) - baseCpuBefore);
    baseRuns.push(b.result);
    basePeak = Math.max(basePeak, b.peak);
    const profiler = inspector && r === ROUNDS - 1 ? await startProfile(inspector, "lucid") : undefined;
    const o = await withPeakRss(workerd.child.pid, ours);
    oursCpu.push(cpuSeconds(workerd.child.pid) - oursCpuStart);
    if (profiler)
      console.log(
        `ingest profile (self time, ours):\n${summarise(await profiler.stop(), 20, readFileSync(join(bundleDir, "index.js"), "utf8"))}`,
      );
    oursRuns.push(o.result);
    oursPeak = Math.max(oursPeak, o.peak);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const oursMBs = median(oursRuns);
  const baseMBs = median(baseRuns);
  console.log(
    `ingest: ${CHUNKS} × ${(CHUNK_BYTES / 1048576).toFixed(0)} MiB sequential uploads, ${ROUNDS} rounds; ` +
      `ours ${oursRuns.map((x) => x.toFixed(1)).join("/")} MB/s, raw store ${baseRuns.map((x) => x.toFixed(1)).join("/")} MB/s`,
  );
  console.log(
    `memory: workerd RSS idle ${idle.toFixed(1)} MB; peak while uploading through the API ${oursPeak.toFixed(1)} MB ` +
      `(+${(oursPeak - idle).toFixed(1)}), during raw store writes ${basePeak.toFixed(1)} MB (+${(basePeak - idle).toFixed(1)})`,
  );
  // workerd's CPU per MB stored, both sides in the same process: steadier than MB/s on a shared machine.
  const mb = (CHUNKS * CHUNK_BYTES) / 1e6;
  const oursCpuMs = (median(oursCpu) * 1000) / mb;
  const baseCpuMs = (median(baseCpu) * 1000) / mb;
  console.log(
    `cpu: workerd ms per MB: ours ${oursCpuMs.toFixed(2)}, raw ${baseCpuMs.toFixed(2)}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  console.log(
    `phases (mean wall ms per upload, Server-Timing): ${Object.entries(phases)
      .map(([name, ms]) => `${name} ${(ms / timedUploads).toFixed(1)}`)
      .join(", ")}; raw PUT ${((CHUNK_BYTES / 1e6 / median(baseRuns)) * 1000).toFixed(1)}`,
  );
  console.log(
    `BENCH ingest ours=${oursMBs.toFixed(1)} baseline=${baseMBs.toFixed(1)} ratio=${(oursMBs / baseMBs).toFixed(3)} unit=MB/s ` +
      `cpu_ms_per_mb=${oursCpuMs.toFixed(2)} baseline_cpu_ms_per_mb=${baseCpuMs.toFixed(2)} load=${loadavg()[0].toFixed(2)}`,
  );
} finally {
  for (const stop of stops) await stop();
  if (work) rmSync(work, { recursive: true, force: true });
}
