// BENCH anchors: session anchors ingested into signed blocks per second on a real workerd, through
// the API in batches (ours) vs. one anchor per request (naive baseline), same run.
// BENCH proof-verify: µs to verify one anchor's inclusion proof + block hash + producer signature, the
// signature checked from scratch for every anchor (ours) vs. one bare native Ed25519 verification
// (crypto.subtle.verify with the imported key, the API ours uses) of the same signature (baseline),
// the two measured in alternating rounds so that the machine's load falls on both alike. The naive
// figure (rebuild the block's whole tree, @noble/curves signature) is printed for reference.
import { sha256 } from "@noble/hashes/sha2.js";
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { headerHash, hexToBytes, producerPublicKey, txRoot, verifyHeaderSignature } from "../shared/chain/block.ts";
import { verifyEd25519Native, verifyEd25519Noble } from "../shared/chain/ed25519.ts";
import { canonicalBytes } from "../shared/chain/canonical.ts";
import { txInclusionProofs, verifyTxInclusion } from "../shared/chain/proof.ts";
import { MerkleTree, toHex } from "../shared/merkle/index.ts";
import { startProfile, summarise } from "./cpu-profile.mjs";
import { HttpsClient, superAdminLogin, TronWallet } from "../test/e2e/helpers/lucid-client.ts";

const BATCHED = Number(process.env.BENCH_ANCHORS ?? 20_000);
const SINGLE = Number(process.env.BENCH_SINGLE_ANCHORS ?? 1_000);

const anchor = (i, prefix) => ({
  type: "anchor",
  sessionId: `${prefix}-${i}`,
  root: toHex(sha256(new TextEncoder().encode(`${prefix}/${i}`))),
  chunkCount: 1 + (i % 50),
  owner: `user-${i % 97}`,
  node: `node-${i % 13}`,
  interim: false,
});

/** CPU seconds (user + system) a process has used so far; Linux /proc, undefined elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

async function ingest(base, token, prefix, count, batch, concurrency, pid) {
  const cpuBefore = cpuSeconds(pid);
  const post = (txs) =>
    fetch(`${base}/api/v1/chain/transactions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ transactions: txs }),
    }).then(async (r) => {
      if (r.status !== 202) throw new Error(`submit: ${r.status} ${await r.text()}`);
    });
  const before = (await (await fetch(`${base}/api/v1/chain/stats`)).json()).anchors;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const from = next;
        next += batch;
        await post(Array.from({ length: Math.min(batch, count - from) }, (_, k) => anchor(from + k, prefix)));
      }
    }),
  );
  const deadline = Date.now() + 120_000;
  for (;;) {
    const stats = await (await fetch(`${base}/api/v1/chain/stats`)).json();
    if (stats.anchors - before >= count) break;
    if (Date.now() > deadline)
      throw new Error(`only ${stats.anchors - before} of ${count} anchors in blocks after 120 s (mempool ${stats.mempool})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuBefore === undefined ? undefined : cpuSeconds(pid) - cpuBefore;
  return { rate: count / seconds, seconds, cpu };
}

/** Signs many distinct headers fast (node:crypto; the bench runs on Node only), so no proof reuses a verified signature. */
function signHeaders(headers, secret) {
  const x = Buffer.from(producerPublicKey(secret), "hex").toString("base64url");
  const key = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: Buffer.from(secret).toString("base64url"), x }, format: "jwk" });
  return headers.map((header) => {
    const hash = headerHash(header);
    return { header, hash, signature: nodeSign(null, Buffer.from(hash, "hex"), key).toString("hex") };
  });
}

async function timePerOp(count, fn) {
  const started = performance.now();
  for (let n = 0; n < count; n++) await fn(n);
  return ((performance.now() - started) * 1000) / count;
}

/** CPU µs (this process, every thread: WebCrypto runs on libuv's pool) per op, and wall µs per op with `inFlight` ops at a time. */
async function cpuAndThroughput(count, inFlight, fn) {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let n = 0; n < count; n += inFlight) await Promise.all(Array.from({ length: Math.min(inFlight, count - n) }, (_, k) => fn(n + k)));
  const wall = ((performance.now() - started) * 1000) / count;
  const cpu = process.cpuUsage(cpuBefore);
  return { wall, cpu: (cpu.user + cpu.system) / count };
}

async function proofVerifyBench() {
  const secret = new Uint8Array(32).fill(5);
  const txs = Array.from({ length: 1000 }, (_, i) => anchor(i, "p"));
  const producer = producerPublicKey(secret);
  const root = txRoot(txs);
  const header = (height) => ({
    version: 1,
    chain: "lucid",
    height,
    previousHash: "0".repeat(64),
    timestamp: height,
    epoch: 0,
    slot: height,
    producer,
    txRoot: root,
    txCount: txs.length,
  });
  const proofs = txInclusionProofs(txs);
  // Every verification below gets a block never verified before (distinct heights), so the
  // signature is checked from scratch each time: no remembered success flatters the figure.
  const iterations = Number(process.env.BENCH_PROOFS ?? 2000);
  const naiveIterations = Math.max(50, iterations / 10);
  const blocks = signHeaders(
    Array.from({ length: 3 * iterations + naiveIterations + 3 * 300 }, (_, k) => header(1 + k)),
    secret,
  );
  let nextBlock = 0;
  const fresh = () => blocks[nextBlock++];
  const pubKey = hexToBytes(producer);
  const fullCheck = async (n) => {
    const i = n % txs.length;
    const block = fresh();
    // As shared/verify.ts does: the signature check starts first and is awaited last.
    const signed = verifyHeaderSignature(block);
    if (!verifyTxInclusion(txs[i], proofs[i], block.header.txRoot) || headerHash(block.header) !== block.hash || !(await signed)) {
      throw new Error("proof failed");
    }
  };
  // Warm-up (JIT, the producer key's one-time import and subgroup check), on blocks not reused.
  for (let n = 0; n < 300; n++) await fullCheck(n);
  // Bare: the one signature verification alone, through the same WebCrypto API, on fresh blocks too.
  const bareKey = await crypto.subtle.importKey("raw", pubKey.slice(), { name: "Ed25519" }, false, ["verify"]);
  const bareInputs = blocks.map((b) => ({ signature: hexToBytes(b.signature), hash: hexToBytes(b.hash) }));
  let nextBare = 0;
  const bareCheck = async () => {
    const { signature, hash } = bareInputs[nextBare++ % bareInputs.length];
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, bareKey, signature, hash))) throw new Error("bare verify failed");
  };
  for (let n = 0; n < 300; n++) await bareCheck();
  nextBare = nextBlock;
  // Alternating rounds, wall and CPU time of each side summed.
  const ROUNDS = 10;
  const per = Math.max(1, Math.floor(iterations / ROUNDS));
  const sums = { ours: 0, bare: 0, oursCpu: 0, bareCpu: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [side, fn] of [
      ["ours", fullCheck],
      ["bare", bareCheck],
    ]) {
      const cpu = process.cpuUsage();
      sums[side] += await timePerOp(per, fn);
      const used = process.cpuUsage(cpu);
      sums[`${side}Cpu`] += (used.user + used.system) / per;
    }
  }
  const ours = sums.ours / ROUNDS;
  const bare = sums.bare / ROUNDS;
  nextBlock = Math.max(nextBlock, nextBare);
  // The same full checks, 32 in flight (an audit or explorer checking many anchors), and their CPU cost.
  const batch = await cpuAndThroughput(iterations, 32, fullCheck);
  // Naive: rebuild the block's whole transaction tree to check membership, and check the signature
  // with @noble/curves as every verifier did before native Ed25519 was used.
  const baseline = await timePerOp(naiveIterations, async (n) => {
    const block = fresh();
    const rebuilt = toHex(MerkleTree.fromData(txs.map((tx) => canonicalBytes(tx))).root());
    const ok =
      rebuilt === block.header.txRoot &&
      txs.includes(txs[n % txs.length]) &&
      headerHash(block.header) === block.hash &&
      verifyEd25519Noble(hexToBytes(block.signature), hexToBytes(block.hash), pubKey);
    if (!ok) throw new Error("naive failed");
  });
  // Where the time goes, each part alone.
  const sigBlocks = blocks.slice(nextBlock, nextBlock + 300);
  const nativeSig = await timePerOp(sigBlocks.length, (n) =>
    verifyEd25519Native(hexToBytes(sigBlocks[n].signature), hexToBytes(sigBlocks[n].hash), pubKey),
  );
  const nobleSig = await timePerOp(50, (n) =>
    verifyEd25519Noble(hexToBytes(sigBlocks[n].signature), hexToBytes(sigBlocks[n].hash), pubKey),
  );
  const pathOnly = await timePerOp(iterations, (n) => verifyTxInclusion(txs[n % 1000], proofs[n % 1000], root));
  const hashOnly = await timePerOp(iterations, (n) => headerHash(blocks[n].header));
  // Many proofs of one block (an audit, a bundle's interim anchors): the signature is checked once.
  const one = blocks[0];
  const sameBlock = await timePerOp(iterations, async (n) => {
    if (
      !verifyTxInclusion(txs[n % 1000], proofs[n % 1000], one.header.txRoot) ||
      headerHash(one.header) !== one.hash ||
      !(await verifyHeaderSignature(one))
    )
      throw new Error("proof failed");
  });
  console.log(
    `proof-verify: ${ours.toFixed(1)} µs per anchor, full check (Merkle path ${pathOnly.toFixed(1)} µs + header hash ${hashOnly.toFixed(1)} µs + ` +
      `native Ed25519 ${nativeSig.toFixed(1)} µs; @noble/curves would take ${nobleSig.toFixed(0)} µs); ${batch.wall.toFixed(1)} µs each with 32 in flight, ` +
      `${batch.cpu.toFixed(1)} µs of CPU each; ${sameBlock.toFixed(1)} µs per proof when many come from one block; ` +
      `naive (rebuild the 1000-tx tree + noble signature) ${baseline.toFixed(0)} µs; ` +
      `bare native Ed25519 verify ${bare.toFixed(1)} µs (alternating rounds; CPU per op: ours ${(sums.oursCpu / ROUNDS).toFixed(1)} µs, bare ${(sums.bareCpu / ROUNDS).toFixed(1)} µs); ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
  );
  console.log(
    `BENCH proof-verify ours=${ours.toFixed(1)} baseline=${bare.toFixed(1)} ratio=${(ours / bare).toFixed(3)} unit=us ` +
      `cpu_ratio=${(sums.oursCpu / sums.bareCpu).toFixed(3)} naive_us=${baseline.toFixed(0)} load=${loadavg()[0].toFixed(2)}`,
  );
}

const work = mkdtempSync(join(tmpdir(), "lucid-bench-anchors-"));
let workerd;
try {
  // BENCH_ONLY=anchors: skip the proof-verify part; BENCH_ONLY=proof-verify: skip the anchors part.
  if (process.env.BENCH_ONLY !== "anchors") await proofVerifyBench();
  if (process.env.BENCH_ONLY === "proof-verify") {
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const admin = await TronWallet.create(); // the bootstrap SUPER_ADMIN, who may submit chain transactions
  const { configPath, bundleDir } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "out"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${port}`,
    publicOrigin: `http://127.0.0.1:${port}`,
    vars: {
      BOOTSTRAP_SUPER_ADMIN_ADDRESS: admin.address,
      BLOCK_INTERVAL_SECONDS: "1",
      CHAIN_MAX_TXS_PER_BLOCK: "100000",
      RATE_LIMIT_PER_MINUTE: "100000000",
      LOG_LEVEL: "warn",
    },
  });
  const secrets = randomSecrets();
  // BENCH_PROFILE=1: a CPU profile of the Worker while the batched anchors go in (bench/cpu-profile.mjs).
  const inspector = process.env.BENCH_PROFILE === "1" ? `127.0.0.1:${await freePort()}` : undefined;
  workerd = startWorkerd(configPath, { env: secrets, args: inspector ? [`--inspector-addr=${inspector}`] : [] });
  await waitForHttp(`${base}/health`);
  // Submitting chain transactions is a privileged write: a real login session with TOTP, not a bare token.
  const client = new HttpsClient(base);
  const token = (await superAdminLogin(client, admin)).full.accessToken;
  await client.close();
  const single = await ingest(base, token, "single", SINGLE, 1, 8, workerd.child.pid).catch((error) => {
    console.error(workerd.output().split("\n").slice(-20).join("\n"));
    throw error;
  });
  const profiler = inspector ? await startProfile(inspector, "lucid") : undefined;
  const batched = await ingest(base, token, "batched", BATCHED, 1000, 4, workerd.child.pid).catch((error) => {
    console.error(
      workerd
        .output()
        .split("\n")
        .filter((l) => !l.includes("http.request"))
        .slice(-20)
        .join("\n"),
    );
    throw error;
  });
  if (profiler)
    console.log(
      `anchors profile (self time, batched):\n${summarise(await profiler.stop(), 25, readFileSync(join(bundleDir, "index.js"), "utf8"))}`,
    );
  const ours = batched.rate;
  const baseline = single.rate;
  // workerd's CPU time per anchor is steadier than wall time on a shared machine: report both.
  const perCpu = (r, n) => (r.cpu ? `${(n / r.cpu).toFixed(0)} per workerd CPU-second` : "CPU time unavailable");
  console.log(
    `anchors: ${ours.toFixed(0)}/s in batches of 1000 (${BATCHED} in ${batched.seconds.toFixed(1)} s, ${perCpu(batched, BATCHED)}), ` +
      `${baseline.toFixed(0)}/s one per request (${SINGLE}, ${perCpu(single, SINGLE)}); 1 s slots, up to 100 000 txs a block; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
  );
  console.log(`BENCH anchors ours=${ours.toFixed(0)} baseline=${baseline.toFixed(0)} ratio=${(ours / baseline).toFixed(2)} unit=anchors/s`);
} finally {
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
}
