import { sha256 } from "@noble/hashes/sha2.js";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
    version: 1,
    chain: "lucid",
    height: 1,
    previousHash: "0".repeat(64),
    timestamp: 1,
    epoch: 0,
    slot: 1,
    producer: producerPublicKey(secret),
    txRoot: txRoot([tx]),
    txCount: 1,
  };
  const bundle = {
    format: "lucid-evidence",
    version: 1,
    session: { id: "s", owner: "o", node: "n" },
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

  it("a chunk file missing from --chunks DIR fails naming it; --allow-missing-chunks checks it by hash and says so", () => {
    const { dir, producer } = writeEvidence();
    rmSync(join(dir, "1.chunk"));
    const missing = run("verify", join(dir, "bundle.json"), "--chunks", dir, "--trust", producer);
    expect(missing.status, missing.stdout + missing.stderr).toBe(1);
    expect(missing.stdout).toContain("FAIL chunk 1: chunk 1 is missing");
    expect(missing.stderr).toContain("FAILED at chunk 1");
    expect(missing.stdout).not.toContain("ok   signature");

    rmSync(join(dir, "2.chunk"));
    const hashOnly = run("verify", join(dir, "bundle.json"), "--chunks", dir, "--allow-missing-chunks", "--trust", producer);
    expect(hashOnly.status, hashOnly.stdout + hashOnly.stderr).toBe(0);
    expect(hashOnly.stdout).toContain("ok   chunks: 3 chunk hashes, 1 chunk files match them; 2 missing, checked only by hash: 1-2");
    expect(hashOnly.stdout).toContain("ok   producer: producer is trusted");

    // Hash-only never excuses a file that is present and altered.
    writeFileSync(join(dir, "0.chunk"), "not the chunk");
    const altered = run("verify", join(dir, "bundle.json"), "--chunks", dir, "--allow-missing-chunks");
    expect(altered.status).toBe(1);
    expect(altered.stdout).toContain("FAIL chunk 0: chunk 0 was altered");
  });

  it("without --chunks only the hashes are checked, and the output says the files were not", () => {
    const { dir } = writeEvidence();
    const result = run("verify", join(dir, "bundle.json"));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("ok   chunks: 3 chunk hashes (chunk files not checked)");
  });

  it("exit 2 for usage errors and unreadable bundles", () => {
    expect(run().status).toBe(2);
    expect(run("verify").status).toBe(2);
    expect(run("verify", "/nonexistent.json").status).toBe(2);
    expect(run("frobnicate").status).toBe(2);
    expect(run("--help").status).toBe(0);
    const { dir } = writeEvidence();
    expect(run("verify", join(dir, "bundle.json"), "--allow-missing-chunks").status).toBe(2);
    expect(run("verify", join(dir, "bundle.json"), "--chunks", join(dir, "1.chunk")).status).toBe(2);
    mkdirSync(join(dir, "sub", "0.chunk"), { recursive: true });
    const unreadable = run("verify", join(dir, "bundle.json"), "--chunks", join(dir, "sub"));
    expect(unreadable.status).toBe(2);
    expect(unreadable.stderr).toContain("cannot read chunk file");
  });
});
