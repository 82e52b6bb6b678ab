#!/usr/bin/env node
// BENCH verify-package: checking a recording package (shared/package/verify.ts, as lucid-verify.mjs runs it
// from a file) for a 1-hour recording of the agent's workload: 28.8 MB sealed (bench/README.md,
// agent-recording-size) in 10 MB chunks, anchored after an hour of 10 s blocks (360 signed headers
// from genesis). Two figures from one run:
//   ours      = ms for every check except reading and hashing the chunks (target < 1000 ms; baseline 1000);
//   hash_ratio = chunk read + hash throughput inside the verifier / node:crypto SHA-256 over the same bytes
//               in memory (target ≥ 0.8).
// The verifier runs as lucid-verify.mjs does (scripts/verify-package.ts: the file read by offset, chunks
// hashed in 1 MiB pieces with node:crypto). Run: `npm run bench -- verify-package`.
import { ed25519 } from "@noble/curves/ed25519.js";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { genesisHeader, signHeader, txRoot } from "../shared/chain/block.ts";
import { txInclusionProof } from "../shared/chain/proof.ts";
import { txId } from "../shared/chain/transactions.ts";
import { MerkleTree, toHex } from "../shared/merkle/index.ts";
import { chunkPath, HEADERS_PER_FILE, headersPath, PATHS } from "../shared/package/format.ts";
import { tarPieces } from "../shared/package/tar.ts";
import { verifyPackage } from "../shared/package/verify.ts";
import { fileSource } from "../scripts/verify-package.ts";
import { chunkLeafHashes } from "../shared/session.ts";

const smoke = process.env.BENCH_SMOKE === "1";
const RECORDING_BYTES = Number(process.env.BENCH_PACKAGE_BYTES ?? (smoke ? 2 : 28.8) * 1024 * 1024);
const CHUNK_BYTES = 10 * 1024 * 1024;
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? (smoke ? 20 : 360));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** A package as the server packs it, for a synthetic chain with one producer. */
async function makePackage(file) {
  const secret = ed25519.utils.randomSecretKey();
  const producer = toHex(ed25519.getPublicKey(secret));
  const genesisTime = Date.now() - (BLOCKS + 1) * 10_000;
  const genesis = genesisHeader("lucid-bench", genesisTime, [producer]);
  const sessionId = "bench-session";
  const chunks = [];
  for (let left = RECORDING_BYTES, i = 0; left > 0; left -= CHUNK_BYTES, i++)
    chunks.push(new Uint8Array(randomBytes(Math.min(CHUNK_BYTES, left))));
  const sha = chunks.map((c) => createHash("sha256").update(c).digest("hex"));
  const tree = MerkleTree.fromLeafHashes(chunkLeafHashes(sha));
  const root = toHex(tree.root());
  const anchor = { type: "anchor", sessionId, root, chunkCount: chunks.length, owner: "owner", node: "node", interim: false };
  const headers = [];
  let parent = genesis;
  let anchorBlock;
  for (let h = 1; h <= BLOCKS; h++) {
    const txs = h === BLOCKS ? [anchor] : [];
    const header = {
      version: 1,
      chain: "lucid-bench",
      height: h,
      previousHash: parent.hash,
      timestamp: genesisTime + h * 10_000,
      epoch: 0,
      slot: h,
      producer,
      txRoot: txRoot(txs),
      txCount: txs.length,
    };
    parent = signHeader(header, secret);
    headers.push(parent);
    if (h === BLOCKS) anchorBlock = parent;
  }
  const manifest = {
    version: 1,
    sessionId,
    tree: "rfc9162-sha256",
    treeSize: chunks.length,
    root,
    createdAt: new Date().toISOString(),
    anchor: null,
    chunks: chunks.map((c, index) => ({
      index,
      sha256: sha[index],
      size: c.length,
      nonce: "00".repeat(24),
      plainSize: c.length,
      compressedSize: c.length,
      captureStart: genesisTime + index,
      captureEnd: genesisTime + index + 1,
    })),
  };
  const json = (v) => new TextEncoder().encode(JSON.stringify(v));
  const entries = [
    {
      name: PATHS.info,
      kind: "file",
      bytes: json({
        format: "lucid-package",
        version: 1,
        createdAt: manifest.createdAt,
        session: { id: sessionId, owner: "owner", node: "node", state: "completed" },
        manifest,
      }),
    },
    {
      name: PATHS.genesis,
      kind: "file",
      bytes: json({ header: genesis.header, hash: genesis.hash, producerSet: { type: "producer-set", version: 1, producers: [producer] } }),
    },
    { name: PATHS.producers, kind: "file", bytes: json([{ fromHeight: 0, source: "genesis", producers: [producer] }]) },
  ];
  for (let from = 1; from <= BLOCKS; from += HEADERS_PER_FILE)
    entries.push({ name: headersPath(from), kind: "file", bytes: json(headers.slice(from - 1, from - 1 + HEADERS_PER_FILE)) });
  entries.push(
    {
      name: PATHS.finalAnchor,
      kind: "file",
      bytes: json({ tx: anchor, txId: txId(anchor), proof: txInclusionProof([anchor], 0), block: anchorBlock }),
    },
    { name: PATHS.interimAnchors, kind: "file", bytes: json([]) },
    {
      name: PATHS.proofs,
      kind: "file",
      bytes: json(chunks.map((_, index) => ({ index, treeSize: chunks.length, path: tree.inclusionProof(index).map(toHex) }))),
    },
    { name: PATHS.events, kind: "file", bytes: json([]) },
    { name: PATHS.audit, kind: "file", bytes: json([]) },
    { name: PATHS.keysDir, kind: "dir" },
    ...chunks.map((bytes, index) => ({ name: chunkPath(index), kind: "file", bytes })),
  );
  const fd = openSync(file, "w");
  for await (const piece of tarPieces(entries, 0)) writeFileSync(fd, piece);
  closeSync(fd);
  return { genesisHash: genesis.hash, chunks };
}

const dir = mkdtempSync(join(tmpdir(), "lucid-bench-package-"));
try {
  const file = join(dir, "package.tar");
  const { genesisHash, chunks } = await makePackage(file);
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  let bestRest = Infinity;
  let bestChunks = Infinity;
  let bestRaw = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const source = fileSource(file);
    const marks = {};
    const start = performance.now();
    const result = await verifyPackage(source, {
      genesis: genesisHash,
      hashRange: (offset, size) => source.hashRange(offset, size),
      onCheck: (check) => (marks[check.step] = performance.now()),
    });
    const end = performance.now();
    source.close();
    if (!result.ok) throw new Error(`the bench package failed at ${result.failure.step}: ${result.failure.message}`);
    // The chunks are read and hashed between the "proofs" check and the "chunks" check.
    const chunkMs = marks.chunks - marks.proofs;
    bestRest = Math.min(bestRest, end - start - chunkMs);
    bestChunks = Math.min(bestChunks, chunkMs);
    const rawStart = performance.now();
    for (const c of chunks) createHash("sha256").update(c).digest("hex");
    bestRaw = Math.min(bestRaw, performance.now() - rawStart);
  }
  const mbps = (ms) => bytes / 1024 / 1024 / (ms / 1000);
  const hashRatio = mbps(bestChunks) / mbps(bestRaw);
  console.log(
    `package: ${(bytes / 1024 / 1024).toFixed(1)} MB in ${chunks.length} chunks, ${BLOCKS} headers; checks without chunks ${bestRest.toFixed(1)} ms; chunks ${mbps(bestChunks).toFixed(0)} MB/s read+hashed vs node:crypto ${mbps(bestRaw).toFixed(0)} MB/s in memory`,
  );
  console.log(
    `BENCH verify-package ours=${bestRest.toFixed(1)} baseline=1000 ratio=${(bestRest / 1000).toFixed(3)} unit=ms hash_ratio=${hashRatio.toFixed(2)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
