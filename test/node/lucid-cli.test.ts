import { sha256 } from "@noble/hashes/sha2.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { producerPublicKey, signHeader, txRoot, type BlockHeader } from "../../shared/chain/block.ts";
import { txInclusionProof } from "../../shared/chain/proof.ts";
import type { AnchorTx } from "../../shared/chain/transactions.ts";
import { MerkleTree, toHex } from "../../shared/merkle/index.ts";

const cli = join(import.meta.dirname, "../../scripts/lucid.ts");

function writeEvidence() {
  const dir = mkdtempSync(join(tmpdir(), "lucid-verify-"));
  const blobs = [0, 1, 2].map((i) => new TextEncoder().encode(`encrypted chunk ${i}`.repeat(10 + i)));
  blobs.forEach((b, i) => writeFileSync(join(dir, `${i}.chunk`), b));
  const root = toHex(MerkleTree.fromData(blobs.map((b) => sha256(b))).root());
  const tx: AnchorTx = { type: "anchor", sessionId: "s", root, chunkCount: 3, owner: "o", node: "n", interim: false };
  const secret = new Uint8Array(32).fill(3);
  const header: BlockHeader = {
    version: 1, chain: "lucid", height: 1, previousHash: "0".repeat(64), timestamp: 1, epoch: 0, slot: 1,
    producer: producerPublicKey(secret), txRoot: txRoot([tx]), txCount: 1,
  };
  const bundle = {
    format: "lucid-evidence", version: 1, session: { id: "s", owner: "o", node: "n" },
    chunks: blobs.map((b, index) => ({ index, sha256: toHex(sha256(b)) })),
    manifest: { root, chunkCount: 3 },
    anchor: { tx, proof: txInclusionProof([tx], 0), block: signHeader(header, secret) },
  };
  writeFileSync(join(dir, "bundle.json"), JSON.stringify(bundle));
  return { dir, blobs, producer: header.producer };
}

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

describe("lucid verify", () => {
  it("passes an intact bundle with its chunk files and fails naming a flipped chunk", () => {
    const { dir, blobs, producer } = writeEvidence();
    const ok = run("verify", join(dir, "bundle.json"), "--chunks", dir, "--trust", producer);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("ok   signature");
    const flipped = blobs[1]!.slice();
    flipped[5]! ^= 0x01;
    writeFileSync(join(dir, "1.chunk"), flipped);
    const bad = run("verify", join(dir, "bundle.json"), "--chunks", dir);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("FAIL chunk 1");
    expect(bad.stderr).toContain("FAILED at chunk 1");
  });

  it("exit 2 for usage errors and unreadable bundles", () => {
    expect(run().status).toBe(2);
    expect(run("verify").status).toBe(2);
    expect(run("verify", "/nonexistent.json").status).toBe(2);
    expect(run("frobnicate").status).toBe(2);
    expect(run("--help").status).toBe(0);
  });
});
