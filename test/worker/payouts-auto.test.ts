import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { AUTO_APPROVER } from "../../durable-objects/ledger/payout-router.ts";
import { createAccount, toHexAddress } from "../../shared/tron/address.ts";
import { asOperator, TestNode } from "./node-agent.ts";
import { clearFaults, fault, fund, inspect, produce } from "./tron-double.ts";

// Issue 15: "automatic" must mean automatic. A node's accrual at AUTO_PAYOUT_THRESHOLD is paid
// without an admin inside the policy (wrangler.toml: AUTO_PAYOUT_NODE_DAILY_MAX = 100 USDT a
// node, AUTO_PAYOUT_DAILY_MAX = 1000 USDT in all, per rolling day) and held for review beyond it.

const ledger = () => env.LEDGER.get(env.LEDGER.idFromName("ledger"));
const poolOf = (node: TestNode) => env.NODE_POOLS.get(env.NODE_POOLS.idFromName(node.pool));

let hotAddress = "";
beforeAll(async () => {
  const wallet = await ledger().createWallet({ kind: "hot", label: "auto payouts", actor: "admin-1" });
  if (!wallet.ok) throw new Error(wallet.problem.detail);
  hotAddress = wallet.value.address;
  await fund(wallet.value.address, { trx: 100_000_000_000n, usdt: 5_000_000_000n });
});

async function nodeWith(units: number) {
  const node = new TestNode(`op-auto-${crypto.randomUUID()}`);
  const payoutAddress = createAccount().address;
  expect((await node.register({ payoutAddress })).status).toBe(201);
  await accrue(node, units);
  return { node, payoutAddress };
}

async function accrue(node: TestNode, units: number) {
  await runInDurableObject(poolOf(node), (_i, state) => {
    state.storage.sql.exec(
      "UPDATE nodes SET accrued_units = accrued_units + ?, accrued_credits = accrued_credits + ? WHERE id = ?",
      units,
      Math.floor(units / 1000),
      node.id,
    );
  });
}

/** The operator triggers the threshold payout; the pool's outbox delivers it; returns the ledger's payout. */
async function autoPayout(node: TestNode) {
  const res = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}/payouts`, { method: "POST" });
  expect(res.status).toBe(201);
  const { idempotencyKey } = await res.json<{ idempotencyKey: string }>();
  const payoutId = await vi.waitFor(async () => {
    await runDurableObjectAlarm(poolOf(node));
    const row = await runInDurableObject(poolOf(node), (_i, state) =>
      state.storage.sql.exec("SELECT status, payout_id FROM payout_outbox WHERE idempotency_key = ?", idempotencyKey).one(),
    );
    expect(row.status).toBe("delivered");
    return String(row.payout_id);
  });
  const payout = await ledger().getPayout(payoutId);
  if (!payout.ok) throw new Error(payout.problem.detail);
  return payout.value;
}

const openAlerts = () => env.ADMIN.get(env.ADMIN.idFromName("admin")).listAlerts({ state: "open", limit: 200 });

describe("automatic payouts", () => {
  it("are approved and paid without an admin inside the per-node cap", async () => {
    const { node, payoutAddress } = await nodeWith(12_000_000);
    const payout = await autoPayout(node);
    expect(payout).toMatchObject({
      state: "approved",
      approvedBy: AUTO_APPROVER,
      nodeId: node.id,
      recipient: payoutAddress,
      amount: "12.000000",
      heldReason: null,
    });
    await vi.waitFor(async () => {
      await ledger().processPayouts();
      await produce(20);
      const now = await ledger().getPayout(payout.id);
      expect(now.ok && now.value.state).toBe("confirmed");
    });
    expect((await inspect(payoutAddress)).transfersIn.map((t) => t.amount)).toEqual(["11900000"]);
  });

  it("wait for TRON, not for an admin, when the wallet's balance cannot be read", async () => {
    const { node } = await nodeWith(15_000_000);
    const match = toHexAddress(hotAddress);
    await fault({ path: "/wallet/getaccount", kind: "error5xx", times: 2, match }); // the call and its retry
    try {
      const deferred = await autoPayout(node);
      expect(deferred).toMatchObject({ state: "requested", heldReason: null, approvedBy: null });
      await ledger().processPayouts();
      const now = await ledger().getPayout(deferred.id);
      expect(now.ok && now.value).toMatchObject({ approvedBy: AUTO_APPROVER, heldReason: null });
      expect(now.ok && now.value.state).not.toBe("requested");
    } finally {
      await clearFaults(match);
    }
  });

  it("are held for review beyond the per-node cap within a day, with an alert", async () => {
    const { node } = await nodeWith(60_000_000);
    expect(await autoPayout(node)).toMatchObject({ state: "approved", approvedBy: AUTO_APPROVER });
    await accrue(node, 60_000_000); // 120 USDT to one node in a day: over 100
    const held = await autoPayout(node);
    expect(held).toMatchObject({ state: "requested", approvedBy: null, heldReason: expect.stringContaining("per-node cap") });
    expect(await openAlerts()).toContainEqual(expect.objectContaining({ key: `ledger:payout-held:${held.id}`, severity: "warning" }));
    // An admin may still approve it.
    const approved = await ledger().approvePayout(held.id, "admin-1");
    expect(approved.ok && approved.value).toMatchObject({ state: "approved", approvedBy: "admin-1", heldReason: null });

    // Far over the cap at once: held as well.
    const { node: big } = await nodeWith(150_000_000);
    expect(await autoPayout(big)).toMatchObject({ state: "requested", heldReason: expect.stringContaining("per-node cap") });
  });

  it("are held beyond the daily cap for all nodes together", async () => {
    const automaticToday = () =>
      runInDurableObject(ledger(), (_i, state) =>
        Number(
          state.storage.sql
            .exec("SELECT coalesce(sum(amount), 0) AS total FROM payouts WHERE approved_by = ? AND state != 'failed'", AUTO_APPROVER)
            .one().total,
        ),
      );
    // 95 USDT nodes (each under its own cap) until the day's 1000 USDT would be exceeded.
    let held;
    for (let i = 0; i < 12 && !held; i++) {
      const before = await automaticToday();
      const { node } = await nodeWith(95_000_000);
      const payout = await autoPayout(node);
      if (payout.state === "requested") {
        held = payout;
        expect(before + 95_000_000).toBeGreaterThan(1_000_000_000);
      } else {
        expect(payout).toMatchObject({ state: "approved", approvedBy: AUTO_APPROVER });
        expect(before + 95_000_000).toBeLessThanOrEqual(1_000_000_000);
      }
    }
    expect(held).toMatchObject({ state: "requested", heldReason: expect.stringContaining("daily cap") });
    expect(await automaticToday()).toBeLessThanOrEqual(1_000_000_000);
  });
});
