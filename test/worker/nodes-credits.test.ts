import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { problemOf } from "./helpers.ts";
import { asOperator, EPOCH_MS, poolStub, setAccrued, storeBeats, TestNode } from "./node-agent.ts";

// The same epoch-with-gaps as test/node/poot.test.ts, relative to the epoch start, from a node that
// hosted nothing and says so: 370 operational seconds, 6 credits.
const GAPPY: [number, number, number][] = [
  [-30, 0, 0],
  [20, 0, 0],
  [80, 0, 0],
  [140, 0, 0],
  [400, 0, 0],
  [460, 0, 0],
  [580, 0, 0],
  [3550, 0, 0],
  [3610, 0, 0],
];

let node: TestNode;
let epoch: number;
beforeEach(async () => {
  node = new TestNode(`op-credits-${crypto.randomUUID()}`);
  expect((await node.register()).status).toBe(201);
  epoch = Math.floor(Date.now() / EPOCH_MS) - 5;
});

describe("closing an epoch", () => {
  it("computes PoOT from stored beats, writes a work-credit transaction and accrues USDT", async () => {
    await storeBeats(node, epoch, GAPPY);
    const pool = poolStub(node.pool);
    expect(await pool.closeEpoch(epoch)).toEqual([{ nodeId: node.id, credits: 6, operationalSeconds: 370, status: "accrued" }]);
    // Closing again changes nothing.
    expect(await pool.closeEpoch(epoch)).toEqual([]);

    const txs = await pool.pendingChainTransactions(100);
    const credit = txs.find((t) => t.type === "work-credit" && t.nodeId === node.id);
    expect(credit).toMatchObject({
      id: `work-credit:${node.id}:${epoch}`,
      epoch,
      credits: 6,
      weight: 6,
      operationalSeconds: 370,
      sessionSeconds: 0,
      bytesRecorded: "0",
      pootVersion: 2,
    });
    expect(await pool.epochWeights(epoch)).toContainEqual({ nodeId: node.id, weight: 6 });
    expect(await pool.ackChainTransactions([credit!.id])).toBe(1);
    expect((await pool.pendingChainTransactions(100)).some((t) => t.id === credit!.id)).toBe(false);

    const res = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`);
    const detail = await res.json<{
      node: { credits: number; accrued: string; operationalSeconds: number };
      epochs: { epoch: number; earned: string; credits: number }[];
      payouts: unknown[];
    }>();
    expect(detail.node).toMatchObject({ credits: 6, accrued: "0.006000", operationalSeconds: 370 });
    expect(detail.epochs).toEqual([expect.objectContaining({ epoch, credits: 6, earned: "0.006000", status: "accrued" })]);
    expect(detail.payouts).toEqual([]);

    const board = await asOperator(node.operatorId, "/api/v1/nodes/leaderboard?limit=100");
    const { entries } = await board.json<{ entries: { nodeId: string; operationalSeconds: number; rank: number }[] }>();
    expect(entries.find((e) => e.nodeId === node.id)).toMatchObject({ operationalSeconds: 370 });
  });

  it("queues a payout automatically when the accrual reaches the threshold", async () => {
    await setAccrued(node, 9_996_000); // 9.996 USDT; the epoch adds 6 credits × 1000 units
    await storeBeats(node, epoch, GAPPY);
    await poolStub(node.pool).closeEpoch(epoch);
    const res = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`);
    const { node: view, payouts } = await res.json<{
      node: { accrued: string; requested: string };
      payouts: { amount: string; status: string; idempotencyKey: string }[];
    }>();
    // Queued, or already delivered to payments by the pool's alarm.
    expect(payouts).toEqual([expect.objectContaining({ amount: "10.002000", idempotencyKey: `node-payout:${node.id}:1` })]);
    expect(["queued", "delivered"]).toContain(payouts[0]!.status);
    expect(view).toMatchObject({ accrued: "0.000000", requested: "10.002000" });
  });
});

describe("payout requests", () => {
  it("two concurrent triggers make one request", async () => {
    await setAccrued(node, 10_000_000);
    const trigger = () => asOperator(node.operatorId, `/api/v1/nodes/${node.id}/payouts`, { method: "POST" });
    const [a, b] = await Promise.all([trigger(), trigger()]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const refused = a.status === 409 ? a : b;
    expect((await problemOf(refused)).type).toBe("/problems/payout-below-threshold");

    const res = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`);
    const { payouts } = await res.json<{ payouts: { amount: string; status: string }[] }>();
    expect(payouts).toEqual([expect.objectContaining({ amount: "10.000000" })]);
  });

  it("refuses a payout below the threshold, and only the operator may ask", async () => {
    await setAccrued(node, 9_999_999);
    const res = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}/payouts`, { method: "POST" });
    expect(res.status).toBe(409);
    expect(await problemOf(res)).toMatchObject({ accrued: "9.999999", threshold: "10.000000" });
    const admin = await asOperator("admin-9", `/api/v1/nodes/${node.id}/payouts`, { method: "POST" }, "ADMIN");
    expect(admin.status).toBe(403);
  });

  it("delivers the request to payments' ledger, which records exactly one payout for it", async () => {
    await setAccrued(node, 12_000_000);
    expect((await asOperator(node.operatorId, `/api/v1/nodes/${node.id}/payouts`, { method: "POST" })).status).toBe(201);
    // The request set an alarm due now; workerd may already have run it, so run it until it is delivered.
    type Payout = { status: string; attempts: number; payoutId?: string | null; idempotencyKey: string };
    let payout: Payout | undefined;
    for (let i = 0; i < 10 && payout?.status !== "delivered"; i++) {
      await runDurableObjectAlarm(poolStub(node.pool));
      const res = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`);
      payout = (await res.json<{ payouts: Payout[] }>()).payouts[0];
    }
    expect(payout).toMatchObject({ status: "delivered", payoutId: expect.any(String) });
    const ledger = env.LEDGER.get(env.LEDGER.idFromName("ledger"));
    const rows = await runInDurableObject(ledger, (_i, state) =>
      state.storage.sql
        .exec("SELECT id, amount, source, recipient FROM payouts WHERE idempotency_key = ?", payout!.idempotencyKey)
        .toArray(),
    );
    expect(rows).toEqual([{ id: payout!.payoutId, amount: 12_000_000, source: "node", recipient: expect.any(String) }]);
    // A threshold payout is automatic: with no hot wallet to pay from, it is held for review, not silently waiting.
    const held = await ledger.getPayout(payout!.payoutId!);
    expect(held.ok && held.value).toMatchObject({
      state: "requested",
      nodeId: node.id,
      heldReason: expect.stringContaining("No hot wallet"),
    });
    // A redelivery of the same request is a duplicate, not a second payout.
    const again = await ledger.requestNodePayout({
      idempotencyKey: payout!.idempotencyKey,
      nodeId: node.id,
      pool: node.pool,
      operatorId: node.operatorId,
      payoutAddress: String(rows[0]!.recipient),
      asset: "USDT",
      amountUnits: "12000000",
      credits: 0,
      reason: "work-credits",
      requestedAt: new Date().toISOString(),
    });
    expect(again).toEqual({ status: "duplicate", payoutId: payout!.payoutId });
  });
});
