// Pruning: old blocks' transaction bodies move to the chunk store; headers stay; every query and
// proof reads the archive transparently, and an altered archive object is refused.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { txId, type AnchorTx } from "../../shared/chain/transactions.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { verifyEvidence } from "../../shared/verify.ts";

const chain = env.CHAIN.get(env.CHAIN.idFromName(`chain-archive-${crypto.randomUUID()}`));

function anchor(sessionId: string): { tx: AnchorTx; hash: string } {
  const hash = toHex(sha256(new TextEncoder().encode(sessionId)));
  const root = toHex(sha256(new Uint8Array([0, ...hash.match(/../g)!.map((b) => parseInt(b, 16))])));
  return { tx: { type: "anchor", sessionId, root, chunkCount: 1, owner: "user-1", node: "node-1", interim: false }, hash };
}

async function produceNext() {
  return runInDurableObject(chain, async (instance) => {
    const head = await instance.head();
    const { timing } = await instance.info();
    return instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
  });
}

describe("pruning and archival", () => {
  it("moves old bodies to the chunk store, keeps headers, and reads archived blocks transparently", async () => {
    const anchors = ["arch-1", "arch-2", "arch-3"].map(anchor);
    for (const a of anchors) {
      await chain.submit([a.tx]);
      await produceNext();
    }
    const before = await chain.anchorEvidence("arch-1");
    expect(await chain.archiveBlocks(1)).toBe(2); // heights 1 and 2 are more than one block below the head
    expect(await chain.archiveBlocks(1)).toBe(0);

    const objects = (await env.CHUNKS.list({ prefix: "chain/" })).objects.map((o) => o.key);
    expect(objects.filter((k) => k.includes("/blocks/000000000001-") || k.includes("/blocks/000000000002-"))).toHaveLength(2);
    const bodies = await runInDurableObject(chain, (_i, state) =>
      state.storage.sql.exec("SELECT height, body FROM chain_txs ORDER BY height").toArray(),
    );
    expect(bodies.map((r) => [r.height, r.body === ""])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);

    // Queries and proofs are unchanged.
    const after = await chain.anchorEvidence("arch-1");
    expect(after).toEqual(before);
    expect(await chain.transaction(txId(anchors[1]!.tx))).toMatchObject({ tx: anchors[1]!.tx, height: 2 });
    expect(await chain.transactionEvidence(txId(anchors[0]!.tx))).toMatchObject({ tx: anchors[0]!.tx, block: { header: { height: 1 } } });
    expect((await chain.blocksWithTxs(1, 3)).map((b) => b.txs)).toEqual(anchors.map((a) => [a.tx]));
    expect(await chain.audit()).toEqual({ ok: true, height: 3 });
    if (!after || "pending" in after) throw new Error("no evidence");
    const bundle = {
      format: "lucid-evidence",
      version: 1,
      session: { id: "arch-1", owner: "user-1", node: "node-1" },
      chunks: [{ index: 0, sha256: anchors[0]!.hash }],
      manifest: { root: anchors[0]!.tx.root, chunkCount: 1 },
      anchor: after,
    };
    expect(await verifyEvidence(bundle)).toMatchObject({ ok: true });

    // An archive object altered in the store is refused, not served.
    const key = objects.find((k) => k.includes("/blocks/000000000001-"))!;
    const original = await (await env.CHUNKS.get(key))!.text();
    await env.CHUNKS.put(key, original.replace("arch-1", "arch-9"));
    expect(await chain.audit()).toMatchObject({ ok: false, height: 1, message: expect.stringMatching(/does not hold the transactions/) });
    await env.CHUNKS.put(key, original);
    expect(await chain.audit()).toEqual({ ok: true, height: 3 });
  });
});
