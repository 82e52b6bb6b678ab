// BENCH heartbeats: heartbeats accepted per second by ONE NodePoolDO, Ed25519 verification
// included (ours), vs. the same DO class with only the signature check skipped (baseline), both
// on the real runtime (workerd, DO SQLite on local disk), in the same run. Each beat signs the
// challenge the pool answered the node's previous beat with (protocol v2), so beats go in rounds:
// one beat per node, signed between rounds, and only the rounds' requests are timed (the agents'
// signing cost is not measured). A bench Worker (bench/workers/heartbeats.ts) drives each round
// over RPC with a fixed number in flight.
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { randomSecrets, SECRET_NAMES } from "../edge-adapter/secrets.ts";
import { readWranglerConfig } from "../edge-adapter/wrangler-config.ts";
import { createDataLayout, generateWorkerdConfig } from "../edge-adapter/workerd-config.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { heartbeatMessage } from "../shared/nodes/protocol.ts";

const NODES = Number(process.env.BENCH_NODES ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40); // beats per node in the measured run
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const report = {
  cpuPercent: 20,
  memoryPercent: 35,
  diskPercent: 40,
  networkMbps: 12,
  sessionsHosted: 1,
  bytesRecorded: 1_000_000,
  accepting: true,
};

function makeNodes(prefix) {
  return Array.from({ length: NODES }, (_, i) => {
    const secretKey = ed25519.utils.randomSecretKey();
    return { nodeId: `node_${prefix}-${i}`, secretKey, publicKey: bytesToHex(ed25519.getPublicKey(secretKey)) };
  });
}

/** One round: a beat per node with sequence `seq`, signing the node's current challenge (or given a dummy signature). */
function makeRound(nodes, challenges, seq, signed) {
  return nodes.map((node) => {
    const unsigned = { seq, challenge: challenges[node.nodeId], sentAt: Date.now(), report };
    const signature = signed ? bytesToHex(ed25519.sign(heartbeatMessage(node.nodeId, unsigned), node.secretKey)) : "00".repeat(64);
    return { nodeId: node.nodeId, beat: { ...unsigned, signature } };
  });
}

const work = mkdtempSync(join(tmpdir(), "lucid-bench-heartbeats-"));
let workerd;
try {
  const bundleDir = join(work, "bundle");
  const binDir = join(ROOT, "node_modules", ".bin");
  const bundle = spawnSync(
    join(binDir, "wrangler"),
    ["deploy", "--dry-run", "--outdir", bundleDir, "--config", "bench/workers/heartbeats.wrangler.toml"],
    {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error" },
    },
  );
  if (bundle.status !== 0) throw new Error(`wrangler bundle failed:\n${bundle.stderr || bundle.stdout}`);
  renameSync(join(bundleDir, "heartbeats.js"), join(bundleDir, "index.js")); // the workerd config embeds index.js

  const port = await freePort();
  const dataDir = join(work, "data");
  createDataLayout(dataDir);
  const lucid = readWranglerConfig(join(ROOT, "wrangler.toml"));
  const configPath = join(work, "bench.capnp");
  writeFileSync(
    configPath,
    generateWorkerdConfig({
      wrangler: {
        ...lucid,
        name: "lucid-bench-heartbeats",
        durableObjects: [
          { binding: "NODE_POOLS", className: "NodePoolDO" },
          { binding: "UNSIGNED_POOLS", className: "UnsignedNodePoolDO" },
        ],
      },
      bundleDir,
      configDir: work,
      dataDir,
      httpAddress: `127.0.0.1:${port}`,
      // The whole run must fit in the clock-skew bound: beats are stamped when they are prepared.
      vars: { LUCID_ENV: "production", PUBLIC_ORIGIN: `http://127.0.0.1:${port}`, LOG_LEVEL: "error", HEARTBEAT_MAX_SKEW_SECONDS: "3600" },
      secrets: SECRET_NAMES,
    }),
  );
  workerd = startWorkerd(configPath, { env: randomSecrets() });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/`);

  // One connection per request (agent: false): each batch is long, keep-alive buys nothing here.
  const post = (path, body) =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = request(
        `${base}${path}`,
        { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => (text += chunk));
          res.on("end", () => {
            if (res.statusCode !== 200) return reject(new Error(`${path}: ${res.statusCode} ${text.slice(0, 500)}`));
            resolve(JSON.parse(text));
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });

  /** Registers fresh nodes in a fresh pool, warms it up, then measures accepted beats per second. */
  async function measure(mode) {
    const signed = mode === "signed";
    const pool = `pool-bench-${mode}`;
    const nodes = makeNodes(mode);
    const registered = await post("/register", { mode, pool, nodes: nodes.map(({ nodeId, publicKey }) => ({ nodeId, publicKey })) });
    const challenges = { ...registered.challenges };
    const round = async (seq) => {
      const beats = makeRound(nodes, challenges, seq, signed);
      const started = performance.now();
      const result = await post("/beats", { mode, pool, beats, concurrency: CONCURRENCY });
      const ms = performance.now() - started;
      if (result.refused > 0 || result.failed > 0)
        throw new Error(`${mode}: ${result.refused} beats refused, e.g. ${JSON.stringify(result.firstRefusal)}`);
      Object.assign(challenges, result.challenges);
      return { accepted: result.accepted, ms };
    };
    for (let seq = 1; seq <= 3; seq++) await round(seq); // warm-up
    let accepted = 0;
    let ms = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const result = await round(4 + r);
      accepted += result.accepted;
      ms += result.ms;
    }
    const seconds = ms / 1000;
    return { rate: accepted / seconds, accepted, seconds };
  }

  const baseline = await measure("unsigned");
  const ours = await measure("signed");
  const needed = NODES / 60; // 100 nodes × one beat a minute
  console.log(
    `heartbeats: signed ${ours.rate.toFixed(0)} beats/s (${ours.accepted} in ${ours.seconds.toFixed(2)} s), ` +
      `unsigned ${baseline.rate.toFixed(0)} beats/s; one DO, ${NODES} nodes, ${CONCURRENCY} in flight. ` +
      `A full pool (${NODES} nodes × 1/min = ${needed.toFixed(2)} beats/s) uses ${((needed / ours.rate) * 100).toFixed(3)} % of one pool DO's signed capacity.`,
  );
  console.log(
    `BENCH heartbeats ours=${ours.rate.toFixed(0)} baseline=${baseline.rate.toFixed(0)} ratio=${(ours.rate / baseline.rate).toFixed(3)} unit=beats/s`,
  );
} catch (error) {
  if (workerd)
    console.error(`workerd (exit ${workerd.child.exitCode ?? workerd.child.signalCode ?? "running"}):\n${workerd.output().slice(-4000)}`);
  throw error;
} finally {
  if (workerd) await workerd.stop();
  rmSync(work, { recursive: true, force: true });
}
