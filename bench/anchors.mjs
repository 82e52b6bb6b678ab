// BENCH anchors: session anchors ingested into signed blocks per second on a real workerd, through
// the API in batches (ours) vs. one anchor per request (naive baseline), same run.
// BENCH proof-verify: µs to verify one anchor's inclusion proof + block hash + producer signature
// (ours) vs. rebuilding the block's whole transaction tree to check membership (naive baseline).
import { sha256 } from "@noble/hashes/sha2.js";
import { sign } from "hono/jwt";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { headerHash, producerPublicKey, signHeader, txRoot, verifyHeaderSignature } from "../shared/chain/block.ts";
import { canonicalBytes } from "../shared/chain/canonical.ts";
import { txInclusionProof, verifyTxInclusion } from "../shared/chain/proof.ts";
import { MerkleTree, toHex } from "../shared/merkle/index.ts";

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

async function ingest(base, token, prefix, count, batch, concurrency) {
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
    if (Date.now() > deadline) throw new Error(`only ${stats.anchors - before} of ${count} anchors in blocks after 120 s (mempool ${stats.mempool})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return count / ((performance.now() - started) / 1000);
}

function proofVerifyBench() {
  const secret = new Uint8Array(32).fill(5);
  const txs = Array.from({ length: 1000 }, (_, i) => anchor(i, "p"));
  const header = {
    version: 1, chain: "lucid", height: 1, previousHash: "0".repeat(64), timestamp: 1, epoch: 0, slot: 1,
    producer: producerPublicKey(secret), txRoot: txRoot(txs), txCount: txs.length,
  };
  const block = signHeader(header, secret);
  const proofs = txs.map((_, i) => txInclusionProof(txs, i));
  const iterations = 2000;
  let started = performance.now();
  for (let n = 0; n < iterations; n++) {
    const i = n % txs.length;
    if (!verifyTxInclusion(txs[i], proofs[i], header.txRoot) || headerHash(header) !== block.hash || !verifyHeaderSignature(block)) {
      throw new Error("proof failed");
    }
  }
  const ours = ((performance.now() - started) * 1000) / iterations;
  const naiveIterations = 200;
  started = performance.now();
  for (let n = 0; n < naiveIterations; n++) {
    const root = toHex(MerkleTree.fromData(txs.map((tx) => canonicalBytes(tx))).root());
    if (root !== header.txRoot || !verifyHeaderSignature(block)) throw new Error("naive failed");
  }
  const baseline = ((performance.now() - started) * 1000) / naiveIterations;
  // One proof from a block never seen before: the Ed25519 signature is checked from scratch.
  const coldBlocks = Array.from({ length: 50 }, (_, k) => signHeader({ ...header, height: 2 + k }, secret));
  started = performance.now();
  for (const cold of coldBlocks) if (!verifyHeaderSignature(cold)) throw new Error("cold signature failed");
  const coldSignature = ((performance.now() - started) * 1000) / coldBlocks.length;
  // Merkle path alone (without the Ed25519 signature, which a verifier checks once per block).
  started = performance.now();
  for (let n = 0; n < iterations; n++) verifyTxInclusion(txs[n % 1000], proofs[n % 1000], header.txRoot);
  const pathOnly = ((performance.now() - started) * 1000) / iterations;
  console.log(
    `proof-verify: ${ours.toFixed(1)} µs per proof with the block's signature checked once per block (first proof of a block: + ${coldSignature.toFixed(0)} µs), ` +
      `${pathOnly.toFixed(1)} µs Merkle path only; naive ${baseline.toFixed(0)} µs (1000-tx block)`,
  );
  console.log(`BENCH proof-verify ours=${ours.toFixed(1)} baseline=${baseline.toFixed(1)} ratio=${(ours / baseline).toFixed(4)} unit=us`);
}

const work = mkdtempSync(join(tmpdir(), "lucid-bench-anchors-"));
let workerd;
try {
  proofVerifyBench();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { configPath } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "out"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${port}`,
    vars: { BLOCK_INTERVAL_SECONDS: "1", CHAIN_MAX_TXS_PER_BLOCK: "100000", RATE_LIMIT_PER_MINUTE: "100000000", LOG_LEVEL: "warn" },
  });
  const secrets = randomSecrets();
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForHttp(`${base}/health`);
  const now = Math.floor(Date.now() / 1000);
  const token = await sign({ sub: "bench", role: "ADMIN", iat: now, exp: now + 3600 }, secrets.JWT_SECRET_KEY, "HS256");
  const baseline = await ingest(base, token, "single", SINGLE, 1, 8).catch((error) => {
    console.error(workerd.output().split("\n").slice(-20).join("\n"));
    throw error;
  });
  const ours = await ingest(base, token, "batched", BATCHED, 1000, 4).catch((error) => {
    console.error(workerd.output().split("\n").filter((l) => !l.includes("http.request")).slice(-20).join("\n"));
    throw error;
  });
  console.log(`anchors: ${ours.toFixed(0)}/s in batches of 1000 (${BATCHED}), ${baseline.toFixed(0)}/s one per request (${SINGLE}); 1 s slots`);
  console.log(`BENCH anchors ours=${ours.toFixed(0)} baseline=${baseline.toFixed(0)} ratio=${(ours / baseline).toFixed(2)} unit=anchors/s`);
} finally {
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
}
