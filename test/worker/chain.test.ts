import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { txId, type AnchorTx } from "../../shared/chain/transactions.ts";
import { MerkleTree, toHex } from "../../shared/merkle/index.ts";
import { verifyEvidence } from "../../shared/verify.ts";
import { api, problemOf, tokenFor } from "./helpers.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { TestNode } from "./node-agent.ts";

const chain = () => env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
const SLOT = 10_000;

function anchor(sessionId: string, chunks = 3, interim = false): { tx: AnchorTx; hashes: string[] } {
  const hashes = Array.from({ length: chunks }, (_, i) => toHex(sha256(new TextEncoder().encode(`${sessionId}/${i}`))));
  const root = toHex(MerkleTree.fromData(hashes.map((h) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16))))).root());
  return { tx: { type: "anchor", sessionId, root, chunkCount: chunks, owner: "user-1", node: "node-1", interim }, hashes };
}

/** Produces the block of the slot after the head, as the alarm would when that slot comes. */
async function produceNextSlot() {
  return runInDurableObject(chain(), async (instance) => {
    const head = await instance.head();
    const info = await instance.info();
    const next = Math.max(Date.now(), info.timing.genesisTime + (head.header.slot + 1) * info.timing.slotMs);
    return instance.produceAt(next);
  });
}

describe("ChainDO", () => {
  it("an alarm turns queued anchors into a signed block; the API serves verifiable evidence", async () => {
    const { tx, hashes } = anchor("session-a");
    const submitted = await chain().submit([tx]);
    expect(submitted).toMatchObject({ ok: true });
    expect(await runDurableObjectAlarm(chain())).toBe(true);
    const head = await chain().head();
    expect(head.header.height).toBe(1);
    expect(head.header.txCount).toBe(1);

    const res = await api("/api/v1/chain/anchors/session-a");
    expect(res.status).toBe(200);
    const evidence = await res.json<{ tx: AnchorTx; proof: never; block: never }>();
    const bundle = {
      format: "lucid-evidence",
      version: 1,
      session: { id: "session-a", owner: "user-1", node: "node-1" },
      chunks: hashes.map((sha256, index) => ({ index, sha256 })),
      manifest: { root: tx.root, chunkCount: 3 },
      anchor: evidence,
    };
    const info = await chain().info();
    const result = await verifyEvidence(bundle, { trustedProducers: [info.producer] });
    expect(result).toMatchObject({ ok: true });
  });

  it("includes each transaction exactly once, one block per slot, and refuses a second final anchor", async () => {
    const a = anchor("session-b");
    const interim = anchor("session-b", 2, true);
    expect(await chain().submit([interim.tx, a.tx])).toMatchObject({ ok: true });
    // The same transaction again is reported as known, not queued twice.
    expect(await chain().submit([a.tx])).toMatchObject({ ok: true, accepted: [], alreadyKnown: [expect.any(String)] });
    const block = await produceNextSlot();
    expect(block?.header.txCount).toBe(2);
    // Same slot again: nothing (one block per slot), nothing lost from the chain.
    const again = await runInDurableObject(chain(), (instance) => instance.produceAt(block!.header.timestamp + 1));
    expect(again).toBeNull();
    const other = anchor("session-b", 5);
    expect(await chain().submit([other.tx])).toMatchObject({ ok: false, reason: "duplicate-anchor" });
    const stats = await chain().stats();
    expect(stats.mempool).toBe(0);
    const rows = await runInDurableObject(chain(), (_i, state) =>
      state.storage.sql.exec("SELECT COUNT(*) AS n FROM chain_txs WHERE session_id = 'session-b'").one(),
    );
    expect(rows.n).toBe(2);
  });

  it("each block links to the stored head: heights and slots only grow", async () => {
    await chain().submit([anchor("session-c").tx]);
    const first = await produceNextSlot();
    // A new object instance (as after a restart) reads the same head and links to it.
    await chain().submit([anchor("session-d").tx]);
    const second = await produceNextSlot();
    expect(second!.header.previousHash).toBe(first!.hash);
    expect(second!.header.height).toBe(first!.header.height + 1);
    expect(second!.header.slot).toBeGreaterThan(first!.header.slot);
    expect(SLOT).toBe((await chain().info()).timing.slotMs);
  });

  it("puts hundreds of anchors in one block (statements stay within DO SQLite's parameter limit)", async () => {
    const many = Array.from({ length: 300 }, (_, i) => anchor(`bulk-${i}`, 1).tx);
    expect(await chain().submit(many)).toMatchObject({ ok: true });
    const block = await produceNextSlot();
    expect(block?.header.txCount).toBe(300);
    expect((await chain().stats()).mempool).toBe(0);
    // In the order they were submitted: the batch insert keeps the mempool's arrival order.
    expect((await chain().blockByHeight(block!.header.height))?.txIds).toEqual(many.map((tx) => txId(tx)));
  });

  it("stats come from the head's running totals, which a chain stored before them gets at start", async () => {
    const before = await chain().stats();
    await chain().submit([anchor("totals-a").tx, anchor("totals-b", 2, true).tx]);
    await produceNextSlot();
    await chain().submit([anchor("totals-c").tx]);
    await produceNextSlot();
    const after = await chain().stats();
    expect(after.transactions - before.transactions).toBe(3);
    expect(after.anchors - before.anchors).toBe(3);
    // As left by the code before the totals existed: every block without them. A new instance
    // (what a deploy starts) fills them from the stored transactions.
    const recomputed = await runInDurableObject(chain(), async (_instance, state) => {
      const counted = state.storage.sql
        .exec<{ txs: number; anchors: number }>("SELECT count(*) AS txs, sum(type = 'anchor') AS anchors FROM chain_txs")
        .one();
      state.storage.sql.exec("UPDATE blocks SET cumulative_txs = NULL, cumulative_anchors = NULL");
      const { ChainDO } = await import("../../durable-objects/chain/index.ts");
      const restarted = new ChainDO(state, env);
      return { counted, stats: await restarted.stats() };
    });
    expect(recomputed.stats).toMatchObject({ transactions: after.transactions, anchors: after.anchors, height: after.height });
    expect(recomputed.counted).toEqual({ txs: after.transactions, anchors: after.anchors });
  });

  it("refuses malformed transactions with the offending index", async () => {
    const result = await chain().submit([{ type: "anchor", sessionId: "x" }]);
    expect(result).toMatchObject({ ok: false, reason: "invalid", index: 0 });
  });
});

describe("node pools feed the chain", () => {
  it("pulls a pool's node events into a block and acknowledges them, once", async () => {
    const node = new TestNode("operator-chain");
    expect((await node.register()).status).toBe(201);
    const pool = env.NODE_POOLS.get(env.NODE_POOLS.idFromName(node.pool));
    const outbox = await pool.pendingChainTransactions(100);
    expect(outbox.map((tx) => tx.type)).toContain("node-event");
    const pulled = await runInDurableObject(chain(), (instance) => instance.pullNodeTransactions(Date.now() + 120_000));
    expect(pulled).toBe(outbox.length);
    expect(await pool.pendingChainTransactions(100)).toEqual([]);
    const block = await produceNextSlot();
    expect(block!.header.txCount).toBeGreaterThanOrEqual(outbox.length);
    const rows = await runInDurableObject(chain(), (_i, state) =>
      state.storage.sql.exec("SELECT type FROM chain_txs WHERE node_id = ?", node.id).toArray(),
    );
    expect(rows.map((r) => r.type)).toEqual(outbox.map(() => "node-event"));
    // A second pull finds nothing new and repeats nothing.
    expect(await runInDurableObject(chain(), (instance) => instance.pullNodeTransactions(Date.now() + 240_000))).toBe(0);
  });
});

describe("/api/v1/chain", () => {
  it("stats, latest, by height, by hash, ranges and transactions", async () => {
    await chain().submit([anchor("session-e").tx]);
    await produceNextSlot();
    const stats = await (await api("/api/v1/chain/stats")).json<{ height: number; headHash: string }>();
    expect(stats.height).toBeGreaterThanOrEqual(1);
    const latest = await (await api("/api/v1/chain/blocks/latest")).json<{ hash: string; txIds: string[] }>();
    expect(latest.hash).toBe(stats.headHash);
    const byHeight = await (await api(`/api/v1/chain/blocks/${stats.height}`)).json<{ hash: string }>();
    const byHash = await (await api(`/api/v1/chain/blocks/${stats.headHash}`)).json<{ hash: string }>();
    expect(byHeight.hash).toBe(latest.hash);
    expect(byHash.hash).toBe(latest.hash);
    const range = await (await api("/api/v1/chain/blocks?from=0&limit=2")).json<{ blocks: { header: { height: number } }[] }>();
    expect(range.blocks.map((b) => b.header.height)).toEqual([0, 1]);
    const tx = await (await api(`/api/v1/chain/transactions/${latest.txIds[0]}`)).json<{ status: string }>();
    expect(tx.status).toBe("included");
  });

  it("answers bad ids with 400 and unknown ones with 404", async () => {
    expect((await api("/api/v1/chain/blocks/not-a-block")).status).toBe(400);
    expect((await problemOf(await api("/api/v1/chain/blocks/999999"))).status).toBe(404);
    expect((await api("/api/v1/chain/transactions/zz")).status).toBe(400);
    expect((await api("/api/v1/chain/anchors/nobody")).status).toBe(404);
    expect((await api("/api/v1/chain/blocks?limit=1000")).status).toBe(400);
  });

  it("submitting transactions needs ADMIN", async () => {
    const body = JSON.stringify({ transactions: [anchor("session-f").tx] });
    const init = (token?: string): RequestInit => ({
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body,
    });
    expect((await api("/api/v1/chain/transactions", init())).status).toBe(401);
    expect((await api("/api/v1/chain/transactions", init(await tokenFor("u", "USER")))).status).toBe(403);
    // chain:manage is privileged: a token merely claiming ADMIN is refused; a live admin session passes.
    expect((await api("/api/v1/chain/transactions", init(await tokenFor("a", "ADMIN")))).status).toBe(401);
    const admin = await steppedUpAdmin();
    const ok = await api("/api/v1/chain/transactions", init(admin.token));
    expect(ok.status).toBe(202);
    const dup = await api("/api/v1/chain/transactions", {
      ...init(admin.token),
      body: JSON.stringify({ transactions: [anchor("session-f", 9).tx] }),
    });
    expect(dup.status).toBe(409);
  });
});
