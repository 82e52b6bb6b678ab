// BENCH gateway: requests through the full middleware stack into a Durable Object read
// (GET /api/v1/system/services/system, as an ADMIN: the operations endpoints are ADMIN-only) vs. a
// raw fetch handler, both on workerd on loopback, 50 connections, measured one after the other in
// the same run.
import autocannon from "autocannon";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { adminToken } from "./admin-token.mjs";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);

function load(url, headers, duration = DURATION) {
  return autocannon({ url, headers, connections: CONNECTIONS, duration });
}

async function measure(url, headers = {}) {
  await load(url, headers, 2); // warm-up
  const result = await load(url, headers);
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { rps: result.requests.average, p99: result.latency.p99, total: result.requests.total };
}

const work = mkdtempSync(join(tmpdir(), "lucid-bench-gateway-"));
const stops = [];
try {
  // Ours: the real bundle, self-hosted config, rate limiter on (with a quota the load cannot exhaust).
  const oursPort = await freePort();
  const { configPath } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "ours"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${oursPort}`,
    publicOrigin: `http://127.0.0.1:${oursPort}`,
    vars: { RATE_LIMIT_PER_MINUTE: "100000000" },
  });
  const secrets = randomSecrets();
  const ours = await startWorkerd(configPath, { env: secrets });
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

  const baseline = await measure(`http://127.0.0.1:${rawPort}/`);
  const measured = await measure(`http://127.0.0.1:${oursPort}/api/v1/system/services/system`, admin);
  console.log(
    `gateway: ours ${measured.rps.toFixed(0)} req/s p99 ${measured.p99} ms (${measured.total} requests); ` +
      `raw ${baseline.rps.toFixed(0)} req/s p99 ${baseline.p99} ms; ${CONNECTIONS} connections, ${DURATION} s each`,
  );
  console.log(
    `BENCH gateway ours=${measured.rps.toFixed(0)} baseline=${baseline.rps.toFixed(0)} ` +
      `ratio=${(measured.rps / baseline.rps).toFixed(3)} unit=req/s p99_ms=${measured.p99}`,
  );
} finally {
  for (const stop of stops) await stop();
  rmSync(work, { recursive: true, force: true });
}
