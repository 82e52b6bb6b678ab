// BENCH workerd-rss: resident memory of the self-hosted workerd (the generated config with its HTTP
// and HTTPS sockets and chunk disk) after every Durable Object class has been touched, and its
// start-up time to the first /health, vs. workerd running an empty worker, in the same run.
// RSS is VmRSS from /proc/<pid>/status summed over the process tree, read after the requests settle.
// A second figure, workerd-rss-loaded, is read after real work through the API over HTTPS: TRON
// logins, a node enrolled, LOADED_SESSIONS sessions recorded (chunks uploaded with the node's
// credential), stopped, anchored in blocks and completed: many instances of every class live at once.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, fetch as undiciFetch } from "undici";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { generateSelfSigned } from "../edge-adapter/tls.ts";
import { dataLayout } from "../edge-adapter/workerd-config.ts";
import { freePort, ROOT, startWorkerd } from "../edge-adapter/workerd-process.ts";
import { readWranglerConfig } from "../edge-adapter/wrangler-config.ts";
import { CHUNK_HEADERS, formatContentDigest } from "../shared/chunk.ts";
import { adminToken } from "./admin-token.mjs";
import { HttpsClient, nodeOperator, registerNode, superAdminLogin, TronWallet } from "../test/e2e/helpers/lucid-client.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOADED_SESSIONS = Number(process.env.BENCH_SESSIONS ?? 20);
const CHUNKS_PER_SESSION = 3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** VmRSS in kB of a process and all its descendants (the npm bin may be a launcher on some platforms). */
function treeRssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  let kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    for (const child of children ? children.split(/\s+/) : []) kb += treeRssKb(Number(child));
  }
  return kb;
}

/** Starts workerd, returns ms from spawn to the first 200 on /health, then runs `touch` and reads RSS. */
async function measure(configPath, port, env, touch) {
  const started = performance.now();
  const workerd = startWorkerd(configPath, { env });
  try {
    let startupMs;
    // A tight poll of its own, not waitForHttp's: the start-up time is the figure measured.
    for (;;) {
      if (workerd.child.exitCode !== null) throw new Error(`workerd exited: ${workerd.output().slice(-4096)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        await res.arrayBuffer();
        if (res.status === 200) {
          startupMs = performance.now() - started;
          break;
        }
      } catch {}
      if (performance.now() - started > 30_000) throw new Error(`no /health within 30 s: ${workerd.output().slice(-4096)}`);
      await sleep(10);
    }
    await touch();
    await sleep(1000); // let lazily-freed memory settle before reading
    return { startupMs, rssMb: treeRssKb(workerd.child.pid) / 1024 };
  } finally {
    await workerd.stop();
  }
}

/** One session's life through the API: created, started, chunks uploaded by the node, stopped. */
async function recordSession(client, owner, node) {
  const session = await client.expect(201, "POST", "/api/v1/sessions", {
    token: owner.accessToken,
    json: { nodeId: node.nodeId, title: "bench" },
  });
  await client.expect(200, "POST", `/api/v1/sessions/${session.id}/start`, { token: owner.accessToken });
  for (let index = 0; index < CHUNKS_PER_SESSION; index++) {
    const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
    const res = await undiciFetch(`${client.base}/api/v1/sessions/${session.id}/chunks/${index}`, {
      method: "PUT",
      body,
      dispatcher: client.dispatcher,
      headers: {
        Authorization: `Bearer ${node.credential}`,
        "Content-Type": "application/octet-stream",
        [CHUNK_HEADERS.digest]: formatContentDigest(digest),
        [CHUNK_HEADERS.nonce]: "ab".repeat(24),
        [CHUNK_HEADERS.plainSize]: String(body.length * 3),
        [CHUNK_HEADERS.compressedSize]: String(body.length - 16),
        [CHUNK_HEADERS.captureStart]: String(Date.now() - 1000),
        [CHUNK_HEADERS.captureEnd]: String(Date.now()),
      },
    });
    if (res.status !== 201) throw new Error(`chunk upload answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  await client.expect(200, "POST", `/api/v1/sessions/${session.id}/stop`, { token: owner.accessToken, json: {} });
  return session.id;
}

/** Logins, a node, LOADED_SESSIONS recorded sessions; returns once every session is anchored and completed. */
async function workload(client, adminWallet) {
  const { full } = await superAdminLogin(client, adminWallet);
  const node = await registerNode(client, await nodeOperator(client, full.accessToken));
  const ids = [];
  for (let i = 0; i < LOADED_SESSIONS; i++) {
    const owner = await (await TronWallet.create()).login(client);
    ids.push(await recordSession(client, owner, node));
  }
  const deadline = Date.now() + 120_000;
  for (const id of ids) {
    for (;;) {
      const view = await client.expect(200, "GET", `/api/v1/sessions/${id}`, { token: full.accessToken });
      if (view.state === "completed") break;
      if (view.state === "failed" || Date.now() > deadline) throw new Error(`session ${id} is ${view.state}: ${view.failure}`);
      await sleep(200);
    }
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const work = mkdtempSync(join(tmpdir(), "lucid-bench-rss-"));
try {
  const tlsDir = join(work, "tls");
  const tls = generateSelfSigned(tlsDir, { hostnames: [] });
  const agent = new Agent({ connect: { ca: readFileSync(tls.certPath, "utf8") } });
  const doClasses = readWranglerConfig(join(ROOT, "wrangler.toml")).durableObjects.map((d) => d.className);

  const baselineDir = join(work, "baseline");
  mkdirSync(baselineDir);
  writeFileSync(join(baselineDir, "empty.js"), `export default { fetch() { return new Response("ok"); } };\n`);
  const ours = [];
  const loaded = [];
  const baseline = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Ours: the production-shaped config on a fresh data directory (first boot creates the SQLite files).
    const [http, https] = [await freePort(), await freePort()];
    const dataDir = join(work, `data-${round}`);
    const { configPath } = buildSelfHosted({
      root: ROOT,
      outDir: join(work, "ours"),
      dataDir,
      httpAddress: `127.0.0.1:${http}`,
      https: { address: `127.0.0.1:${https}`, tlsDir },
      publicOrigin: `https://localhost:${https}`,
    });
    const secrets = randomSecrets();
    const admin = { authorization: `Bearer ${await adminToken(secrets)}` };
    ours.push(
      await measure(configPath, http, secrets, async () => {
        // The services report (ADMIN-only) runs every function's check: each pings its Durable Object.
        for (let i = 0; i < 3; i++) {
          const res = await undiciFetch(`https://localhost:${https}/api/v1/system/services`, { dispatcher: agent, headers: admin });
          if (res.status !== 200) throw new Error(`/api/v1/system/services answered ${res.status}`);
          await res.arrayBuffer();
        }
        const touched = doClasses.filter((c) => existsSync(join(dataLayout(dataDir).durableObjects, `lucid-${c}`)));
        const untouched = doClasses.filter((c) => !touched.includes(c));
        if (untouched.length) console.warn(`warning: no health check reached ${untouched.join(", ")}; the RSS misses them`);
        if (round === 0) console.log(`Durable Object classes touched: ${touched.length}/${doClasses.length} (${touched.join(", ")})`);
      }),
    );

    // Ours under load: the same config, after the workload (one-second slots so anchoring is quick).
    const [loadedHttp, loadedHttps] = [await freePort(), await freePort()];
    const adminWallet = await TronWallet.create();
    const { configPath: loadedConfig } = buildSelfHosted({
      root: ROOT,
      outDir: join(work, "loaded"),
      dataDir: join(work, `loaded-data-${round}`),
      httpAddress: `127.0.0.1:${loadedHttp}`,
      https: { address: `127.0.0.1:${loadedHttps}`, tlsDir },
      publicOrigin: `https://localhost:${loadedHttps}`,
      vars: { BOOTSTRAP_SUPER_ADMIN_ADDRESS: adminWallet.address, BLOCK_INTERVAL_SECONDS: "1", LOG_LEVEL: "warn" },
    });
    const client = new HttpsClient(`https://localhost:${loadedHttps}`, readFileSync(tls.certPath, "utf8"));
    loaded.push(await measure(loadedConfig, loadedHttp, randomSecrets(), () => workload(client, adminWallet)));
    await client.close();

    const port = await freePort();
    writeFileSync(
      join(baselineDir, "empty.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "empty", worker = (modules = [(name = "empty.js", esModule = embed "empty.js")], compatibilityDate = "2026-11-01"))],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "empty")],
);
`,
    );
    baseline.push(
      await measure(join(baselineDir, "empty.capnp"), port, {}, async () => {
        for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${port}/health`)).arrayBuffer();
      }),
    );
  }
  await agent.close();

  const row = (name, pick, unit, digits, runs = ours) => {
    const o = median(runs.map(pick));
    const b = median(baseline.map(pick));
    console.log(
      `rounds: ours ${runs.map((r) => pick(r).toFixed(digits)).join(" ")}; baseline ${baseline.map((r) => pick(r).toFixed(digits)).join(" ")}`,
    );
    console.log(`BENCH ${name} ours=${o.toFixed(digits)} baseline=${b.toFixed(digits)} ratio=${(o / b).toFixed(2)} unit=${unit}`);
  };
  row("workerd-rss", (r) => r.rssMb, "MB", 1);
  row("workerd-startup", (r) => r.startupMs, "ms", 0);
  console.log(`loaded: ${LOADED_SESSIONS} sessions of ${CHUNKS_PER_SESSION} × 64 KiB chunks, each anchored and completed`);
  row("workerd-rss-loaded", (r) => r.rssMb, "MB", 1, loaded);
} finally {
  rmSync(work, { recursive: true, force: true });
}
