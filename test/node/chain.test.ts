import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import {
  genesisHeader,
  headerHash,
  legacyGenesisHeader,
  producerPublicKey,
  signHeader,
  txRoot,
  verifyHeaderSignature,
  type BlockHeader,
} from "../../shared/chain/block.ts";
import { canonicalJson, CanonicalError } from "../../shared/chain/canonical.ts";
import { blockWeight, prefers } from "../../shared/chain/fork-choice.ts";
import { txInclusionProof, txInclusionProofs, verifyTxInclusion } from "../../shared/chain/proof.ts";
import { leaderOf, slotAt, slotStart, type ChainTiming } from "../../shared/chain/schedule.ts";
import { txId, type AnchorTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { BlockRejected, validateBlock, type ValidationContext } from "../../shared/chain/validate.ts";
import { MerkleTree, toHex } from "../../shared/merkle/index.ts";
import { verifyEvidence, type EvidenceBundle } from "../../shared/verify.ts";

const timing: ChainTiming = { genesisTime: Date.parse("2025-01-25T00:00:00Z"), slotMs: 10_000, epochSlots: 360 };
const secret = new Uint8Array(32).fill(7);
const producer = producerPublicKey(secret);
const genesis = genesisHeader("lucid-test", timing.genesisTime, [producer]);

function chunkBlobs(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => sha256(new TextEncoder().encode(`chunk ${i}`)).slice(0, 16 + i));
}

function anchorFor(blobs: Uint8Array[], sessionId = "s-1"): AnchorTx {
  const root = toHex(MerkleTree.fromData(blobs.map((b) => sha256(b))).root());
  return { type: "anchor", sessionId, root, chunkCount: blobs.length, owner: "u-1", node: "n-1", interim: false };
}

function makeBlock(txs: ChainTx[], slot = 5, parent = genesis) {
  const header: BlockHeader = {
    version: 1,
    chain: "lucid-test",
    height: parent.header.height + 1,
    previousHash: parent.hash,
    timestamp: slotStart(timing, slot) + 123,
    epoch: 0,
    slot,
    producer,
    txRoot: txRoot(txs),
    txCount: txs.length,
  };
  return { ...signHeader(header, secret), txs };
}

function context(overrides: Partial<ValidationContext> = {}): ValidationContext {
  return {
    chain: "lucid-test",
    timing,
    parent: genesis,
    weights: [{ producer, weight: 1 }],
    seedHash: genesis.hash,
    now: slotStart(timing, 6),
    maxFutureMs: 10_000,
    hasFinalAnchor: () => false,
    ...overrides,
  };
}

describe("canonical JSON (RFC 8785 subset)", () => {
  it("sorts keys, drops whitespace and refuses what is not canonical", () => {
    expect(canonicalJson({ b: 1, a: [true, null, "x"], c: { z: 1, y: 2 } })).toBe('{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}');
    expect(() => canonicalJson({ a: 1.5 })).toThrow(CanonicalError);
    expect(() => canonicalJson({ a: 10n })).toThrow(CanonicalError);
    expect(() => canonicalJson(new Date())).toThrow(CanonicalError);
  });
});

describe("blocks", () => {
  it("any altered header field is detected by the hash or the signature", async () => {
    const block = makeBlock([anchorFor(chunkBlobs(3))]);
    expect(await verifyHeaderSignature(block)).toBe(true);
    const alterations: Partial<BlockHeader>[] = [
      { height: 2 },
      { previousHash: "1".repeat(64) },
      { timestamp: block.header.timestamp + 1 },
      { epoch: 1 },
      { slot: 6 },
      { txRoot: "2".repeat(64) },
      { txCount: 2 },
      { chain: "other" },
      { producer: producerPublicKey(new Uint8Array(32).fill(9)) },
    ];
    for (const change of alterations) {
      const tampered = { ...block, header: { ...block.header, ...change } };
      const hashMatches = headerHash(tampered.header) === tampered.hash;
      expect(hashMatches && (await verifyHeaderSignature(tampered)), JSON.stringify(change)).toBe(false);
      await expect(validateBlock(tampered, context()), JSON.stringify(change)).rejects.toThrow(BlockRejected);
    }
    const badSignature = { ...block, signature: toHex(ed25519.sign(new Uint8Array(32), secret)) };
    expect(await verifyHeaderSignature(badSignature)).toBe(false);
  });

  it("validation names the fault: wrong parent, wrong producer, future timestamp, bad signature, duplicate anchor", async () => {
    const tx = anchorFor(chunkBlobs(2));
    const fault = async (block: ReturnType<typeof makeBlock>, ctx = context()) => {
      try {
        await validateBlock(block, ctx);
        return "accepted";
      } catch (error) {
        return (error as BlockRejected).fault;
      }
    };
    expect(await fault(makeBlock([tx]))).toBe("accepted");
    const other = makeBlock([tx]);
    expect(await fault(makeBlock([tx], 7, other))).toBe("wrong-height");
    expect(await fault({ ...makeBlock([tx]), header: { ...makeBlock([tx]).header, previousHash: "3".repeat(64) } })).toBe("wrong-parent");
    expect(await fault(makeBlock([tx]), context({ weights: [{ producer: "ab".repeat(32), weight: 5 }] }))).toBe("wrong-producer");
    expect(await fault(makeBlock([tx], 50))).toBe("timestamp");
    const forged = makeBlock([tx]);
    expect(await fault({ ...forged, signature: "00".repeat(64) })).toBe("bad-signature");
    expect(await fault(makeBlock([tx]), context({ hasFinalAnchor: () => true }))).toBe("duplicate-anchor");
    expect(await fault(makeBlock([tx, tx]))).toBe("bad-transaction");
    const swapped = makeBlock([tx]);
    expect(await fault({ ...swapped, txs: [{ ...tx, chunkCount: 3 }] })).toBe("bad-tx-root");
  });
});

describe("inclusion proofs", () => {
  it("all of a block's proofs from one tree are each transaction's own proof, and verify", () => {
    const txs = Array.from({ length: 7 }, (_, i) => anchorFor(chunkBlobs(1 + i), `s-${i}`));
    const all = txInclusionProofs(txs);
    expect(all).toEqual(txs.map((_, i) => txInclusionProof(txs, i)));
    const root = txRoot(txs);
    all.forEach((proof, i) => expect(verifyTxInclusion(txs[i]!, proof, root)).toBe(true));
  });
});

describe("PoOT leader schedule", () => {
  it("is deterministic, follows the weights, and a single producer leads every slot", () => {
    const weights = [
      { producer: "aa".repeat(32), weight: 3 },
      { producer: "bb".repeat(32), weight: 1 },
    ];
    const seed = genesis.hash;
    const leaders = Array.from({ length: 4000 }, (_, slot) => leaderOf(slot, seed, weights));
    expect(leaders).toEqual(Array.from({ length: 4000 }, (_, slot) => leaderOf(slot, seed, [...weights].reverse())));
    const share = leaders.filter((l) => l === "aa".repeat(32)).length / leaders.length;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.8);
    expect(leaderOf(9, seed, [{ producer, weight: 1 }])).toBe(producer);
    expect(leaderOf(9, seed, [])).toBeNull();
    expect(slotAt(timing, timing.genesisTime + 25_000)).toBe(2);
  });
});

describe("signature checks once per block", () => {
  it("remembers only successes: a forged signature or another header still fails after the real one passed", async () => {
    const block = makeBlock([], 11);
    expect(await verifyHeaderSignature(block)).toBe(true);
    expect(await verifyHeaderSignature(block)).toBe(true); // remembered
    expect(await verifyHeaderSignature({ ...block, signature: "00".repeat(64) })).toBe(false);
    expect(await verifyHeaderSignature({ ...block, hash: "ab".repeat(32) })).toBe(false);
    expect(
      await verifyHeaderSignature({ ...block, header: { ...block.header, producer: producerPublicKey(new Uint8Array(32).fill(8)) } }),
    ).toBe(false);
    const forged = { ...block, signature: block.signature.replace(/^./, (c) => (c === "0" ? "1" : "0")) };
    expect(await verifyHeaderSignature(forged)).toBe(false);
    expect(await verifyHeaderSignature(forged)).toBe(false);
  });
});

describe("fork choice", () => {
  it("prefers the heavier chain, breaks ties by the lower head hash, the same way whatever the order", () => {
    const low = { weight: 5, hash: "01".repeat(32) };
    const high = { weight: 5, hash: "fe".repeat(32) };
    expect(prefers({ weight: 6, hash: "ff".repeat(32) }, low)).toBe(true);
    expect(prefers(low, { weight: 6, hash: "00".repeat(32) })).toBe(false);
    expect(prefers(low, high)).toBe(true);
    expect(prefers(high, low)).toBe(false);
    expect(prefers(low, low)).toBe(false);
    const weights = [{ producer: "aa".repeat(32), weight: 3 }];
    expect(blockWeight("aa".repeat(32), weights)).toBe(3);
    expect(blockWeight("bb".repeat(32), weights)).toBe(0);
  });
});

describe("evidence bundles (lucid verify)", () => {
  function bundleFor(blobs: Uint8Array[]): EvidenceBundle {
    const tx = anchorFor(blobs);
    const others: ChainTx[] = [
      {
        type: "node-event",
        version: 1,
        id: "node-event:n-1:1",
        nodeId: "n-1",
        pool: "pool-1",
        from: null,
        to: "registering",
        reason: "registered",
        at: "2026-01-01T00:00:00.000Z",
      },
      {
        type: "work-credit",
        version: 1,
        id: "work-credit:n-1:0",
        nodeId: "n-1",
        pool: "pool-1",
        operatorId: "op-1",
        payoutAddress: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
        epoch: 0,
        epochStart: "2026-01-01T00:00:00.000Z",
        epochEnd: "2026-01-01T01:00:00.000Z",
        pootVersion: 1,
        operationalSeconds: 60,
        sessionSeconds: 0,
        bytesRecorded: "0",
        credits: 1,
        weight: 1,
      },
    ];
    const txs = [...others, tx];
    const block = makeBlock(txs);
    return {
      format: "lucid-evidence",
      version: 1,
      session: { id: "s-1", owner: "u-1", node: "n-1" },
      chunks: blobs.map((b, index) => ({ index, sha256: toHex(sha256(b)), size: b.length })),
      manifest: { root: tx.root, chunkCount: blobs.length },
      anchor: { tx, proof: txInclusionProof(txs, 2), block: { header: block.header, hash: block.hash, signature: block.signature } },
      interimAnchors: [],
    };
  }

  it("rolling anchors name a truncated recording and an altered prefix", async () => {
    const blobs = chunkBlobs(12);
    const interim = { ...anchorFor(blobs.slice(0, 10)), interim: true };
    const early = makeBlock([interim], 3);
    const interimEvidence = {
      tx: interim,
      proof: txInclusionProof([interim], 0),
      block: { header: early.header, hash: early.hash, signature: early.signature },
    };
    const step = async (b: EvidenceBundle) => {
      const r = await verifyEvidence(b, { trustedProducers: [producer] });
      return r.ok ? "ok" : r.failure.step;
    };
    const whole = { ...bundleFor(blobs), interimAnchors: [interimEvidence] };
    expect(await step(whole)).toBe("ok");
    expect((await verifyEvidence(whole)).checks.find((c) => c.step === "interim anchors")?.message).toContain("up to 10 chunks");
    // The recording was cut to 8 chunks before it was finalised: the final anchor is consistent, the interim one is not.
    expect(await step({ ...bundleFor(blobs.slice(0, 8)), interimAnchors: [interimEvidence] })).toBe("truncation");
    // Chunk 4 replaced before finalising: the final root matches, the prefix anchored while recording does not.
    const swapped = blobs.map((b, i) => (i === 4 ? new Uint8Array([9, 9, 9]) : b));
    expect(await step({ ...bundleFor(swapped), interimAnchors: [interimEvidence] })).toBe("truncation");
    // A forged interim anchor is refused as such.
    const forged = { ...interimEvidence, block: { ...interimEvidence.block, signature: "00".repeat(64) } };
    expect(await step({ ...whole, interimAnchors: [forged] })).toBe("interim anchor 0");
  });

  it("passes for an intact bundle with its chunk files", async () => {
    const blobs = chunkBlobs(5);
    const result = await verifyEvidence(bundleFor(blobs), { chunkBytes: (i) => blobs[i], trustedProducers: [producer] });
    expect(result.ok).toBe(true);
    expect(result.checks.map((c) => c.step)).toEqual([
      "bundle",
      "chunks",
      "session root",
      "anchor",
      "inclusion",
      "block hash",
      "signature",
      "tron anchor",
      "producer",
    ]);
  });

  it("a missing chunk blob fails naming it, unless hash-only is allowed, which names the chunks not hashed", async () => {
    const blobs = chunkBlobs(5);
    const bundle = bundleFor(blobs);
    const some = (i: number) => (i === 1 || i === 2 || i === 4 ? undefined : blobs[i]);
    const strict = await verifyEvidence(bundle, { chunkBytes: some });
    expect(strict).toMatchObject({
      ok: false,
      failure: { step: "chunk 1", message: "chunk 1 is missing: its file was not there to hash" },
    });
    const lenient = await verifyEvidence(bundle, { chunkBytes: some, allowMissingChunks: true });
    expect(lenient.ok).toBe(true);
    expect(lenient.checks.find((c) => c.step === "chunks")?.message).toBe(
      "5 chunk hashes, 2 chunk files match them; 3 missing, checked only by hash: 1-2, 4",
    );
    expect((await verifyEvidence(bundle)).checks.find((c) => c.step === "chunks")?.message).toBe(
      "5 chunk hashes (chunk files not checked)",
    );
  });

  it("names the first thing that fails", async () => {
    const blobs = chunkBlobs(5);
    const bundle = bundleFor(blobs);
    const flipped = blobs.map((b) => b.slice());
    flipped[3]![0]! ^= 1;
    const first = async (b: unknown, opts = {}) => {
      const r = await verifyEvidence(b, opts);
      return r.ok ? "ok" : r.failure.step;
    };
    expect(await first(bundle, { chunkBytes: (i: number) => flipped[i] })).toBe("chunk 3");
    expect(await first({ ...bundle, chunks: bundle.chunks.slice(0, 4) })).toBe("chunks");
    expect(await first({ ...bundle, manifest: { ...bundle.manifest, root: "0".repeat(64) } })).toBe("session root");
    expect(await first({ ...bundle, session: { ...bundle.session, owner: "mallory" } })).toBe("anchor");
    expect(await first({ ...bundle, anchor: { ...bundle.anchor, proof: { ...bundle.anchor.proof, txIndex: 1 } } })).toBe("inclusion");
    const block = bundle.anchor.block;
    expect(await first({ ...bundle, anchor: { ...bundle.anchor, block: { ...block, header: { ...block.header, timestamp: 1 } } } })).toBe(
      "block hash",
    );
    expect(await first({ ...bundle, anchor: { ...bundle.anchor, block: { ...block, hash: "1".repeat(64) } } })).toBe("block hash");
    expect(await first({ ...bundle, anchor: { ...bundle.anchor, block: { ...block, signature: "00".repeat(64) } } })).toBe("signature");
    expect(await first(bundle, { trustedProducers: ["ab".repeat(32)] })).toBe("producer");
    expect(await first({ nonsense: true })).toBe("bundle");
    expect(txId(bundle.anchor.tx)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("legacy genesis", () => {
  it("is the genesis chains were built on before it committed to the producer set, so they stay linked", () => {
    // The hash the code before the producer-set commitment derived for this configuration.
    expect(legacyGenesisHeader("lucid-mainnet", 1_700_000_000_000).hash).toBe(
      "5b75e8256dface42f1ebd558308e3481d99f11985c674911e1acd0da95c23a20",
    );
    expect(genesisHeader("lucid-mainnet", 1_700_000_000_000, ["ab".repeat(32)]).hash).not.toBe(
      legacyGenesisHeader("lucid-mainnet", 1_700_000_000_000).hash,
    );
  });
});
