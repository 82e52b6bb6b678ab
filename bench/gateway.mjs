// BENCH gateway: an authenticated (JWT, ADMIN) GET through the full middleware stack into one
// Durable Object read (GET /api/v1/system/services/system: SystemDO.getService) vs. a bare Worker in
// the same workerd process doing the same SystemDO read through the same namespace with no framework
// (baseline), and vs. a raw fetch handler with no DO (second ratio). 50 connections, measured one
// after the other in the same run; the load average is printed beside the figures.
import autocannon from "autocannon";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { adminToken } from "./admin-token.mjs";
import { startProfile, summarise } from "./cpu-profile.mjs";

// BENCH_PROFILE=1: also take a CPU profile of the gateway's Worker while ours is measured, printing
// self time by function (workerd's inspector; see bench/cpu-profile.mjs).
const PROFILE = process.env.BENCH_PROFILE === "1";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);

function load(url, headers, duration = DURATION) {
  return autocannon({ url, headers, connections: CONNECTIONS, duration });
}

/** CPU seconds (user + system) a process has used so far; Linux /proc, NaN elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** Throughput, p99 and workerd's CPU µs per request (steadier than wall time on a shared machine). */
async function measure(url, headers, pid) {
  await load(url, headers, 2); // warm-up
  const cpuBefore = cpuSeconds(pid);
  const result = await load(url, headers);
  const cpuUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / result.requests.total;
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { rps: result.requests.average, p99: result.latency.p99, total: result.requests.total, cpuUs };
}

const work = mkdtempSync(join(tmpdir(), "lucid-bench-gateway-"));
const stops = [];
try {
  // Ours: the real bundle, self-hosted config, rate limiter on (with a quota the load cannot exhaust).
  const oursPort = await freePort();
  const { configPath, bundleDir } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "ours"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${oursPort}`,
    publicOrigin: `http://127.0.0.1:${oursPort}`,
    vars: { RATE_LIMIT_PER_MINUTE: "100000000" },
  });
  // The bare Worker runs in the same workerd process and reaches the same SystemDO objects
  // (durableObjectNamespace by service and class name): the one DO read, no framework.
  const barePort = await freePort();
  writeFileSync(
    join(work, "ours", "bare.js"),
    `export default {
  async fetch(request, env) {
    const record = await env.SYSTEM.get(env.SYSTEM.idFromName("system")).getService("system");
    if (!record) return new Response("not found", { status: 404 });
    return Response.json({ name: record.name, status: record.status, latencyMs: record.latencyMs, detail: record.detail ?? null,
      checkedAt: new Date(record.checkedAt).toISOString(), lastUpAt: record.lastUpAt === null ? null : new Date(record.lastUpAt).toISOString(),
      consecutiveFailures: record.consecutiveFailures });
  },
};\n`,
  );
  const config = readFileSync(configPath, "utf8");
  const withBare = config
    .replace(/services = \[\n/, `services = [\n    (name = "bare", worker = .bareWorker),\n`)
    .replace(/sockets = \[\n/, `sockets = [\n    (name = "bare-http", address = "127.0.0.1:${barePort}", http = (), service = "bare"),\n`)
    .concat(`
const bareWorker :Workerd.Worker = (
  modules = [(name = "bare.js", esModule = embed "bare.js")],
  compatibilityDate = "2026-11-01",
  bindings = [(name = "SYSTEM", durableObjectNamespace = (serviceName = "lucid", className = "SystemDO"))],
);
`);
  if (!withBare.includes('"bare-http"') || !withBare.includes('(name = "bare", worker'))
    throw new Error("unexpected workerd config layout");
  writeFileSync(configPath, withBare);
  const secrets = randomSecrets();
  const inspector = PROFILE ? `127.0.0.1:${await freePort()}` : undefined;
  const ours = await startWorkerd(configPath, { env: secrets, args: inspector ? [`--inspector-addr=${inspector}`] : [] });
  stops.push(ours.stop);
  await waitForHttp(`http://127.0.0.1:${oursPort}/health`);
  const admin = { authorization: `Bearer ${await adminToken(secrets)}` };
  await fetch(`http://127.0.0.1:${oursPort}/api/v1/system/services`, { headers: admin }).then((r) => r.arrayBuffer());

  // Baseline: a raw fetch handler returning a JSON body of similar size, same runtime.
  const rawPort = await freePort();
  const rawDir = join(work, "raw");
  mkdirSync(rawDir);
  writeFileSync(
    join(rawDir, "raw.js"),
    `const body = JSON.stringify({ name: "system", status: "up", latencyMs: 1.5, detail: null,
  checkedAt: new Date().toISOString(), lastUpAt: new Date().toISOString(), consecutiveFailures: 0 });
export default { fetch() { return new Response(body, { headers: { "content-type": "application/json" } }); } };\n`,
  );
  writeFileSync(
    join(rawDir, "raw.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "raw", worker = (modules = [(name = "raw.js", esModule = embed "raw.js")], compatibilityDate = "2026-11-01"))],
  sockets = [(name = "http", address = "127.0.0.1:${rawPort}", http = (), service = "raw")],
);\n`,
  );
  const raw = await startWorkerd(join(rawDir, "raw.capnp"));
  stops.push(raw.stop);
  await waitForHttp(`http://127.0.0.1:${rawPort}/`);

  const bareUrl = `http://127.0.0.1:${barePort}/`;
  if ((await fetch(bareUrl)).status !== 200) throw new Error("the bare Worker found no SystemDO record");
  const rawFetch = await measure(`http://127.0.0.1:${rawPort}/`, {}, raw.child.pid);
  const bare = await measure(bareUrl, {}, ours.child.pid);
  const profiler = inspector ? await startProfile(inspector, "lucid") : undefined;
  const measured = await measure(`http://127.0.0.1:${oursPort}/api/v1/system/services/system`, admin, ours.child.pid);
  if (profiler)
    console.log(
      `gateway profile (self time, ours, warm-up included):\n${summarise(await profiler.stop(), 25, readFileSync(join(bundleDir, "index.js"), "utf8"))}`,
    );
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  console.log(
    `gateway: ours ${measured.rps.toFixed(0)} req/s p99 ${measured.p99} ms, ${measured.cpuUs.toFixed(0)} µs workerd CPU/request (${measured.total} requests); ` +
      `bare Worker + same DO read ${bare.rps.toFixed(0)} req/s p99 ${bare.p99} ms, ${bare.cpuUs.toFixed(0)} µs CPU/request; ` +
      `raw fetch ${rawFetch.rps.toFixed(0)} req/s p99 ${rawFetch.p99} ms, ${rawFetch.cpuUs.toFixed(0)} µs CPU/request; ` +
      `${CONNECTIONS} connections, ${DURATION} s each; load average ${load}`,
  );
  console.log(
    `BENCH gateway ours=${measured.rps.toFixed(0)} baseline=${bare.rps.toFixed(0)} ` +
      `ratio=${(measured.rps / bare.rps).toFixed(3)} unit=req/s p99_ms=${measured.p99} baseline_p99_ms=${bare.p99} ` +
      `raw=${rawFetch.rps.toFixed(0)} ratio_raw=${(measured.rps / rawFetch.rps).toFixed(3)} raw_p99_ms=${rawFetch.p99} ` +
      `cpu_us=${measured.cpuUs.toFixed(0)} baseline_cpu_us=${bare.cpuUs.toFixed(0)} load=${loadavg()[0].toFixed(2)}`,
  );
} finally {
  for (const stop of stops) await stop();
  rmSync(work, { recursive: true, force: true });
}
