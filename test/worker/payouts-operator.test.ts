import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createAccount } from "../../shared/tron/address.ts";
import { enrolTotp, login, newWallet, nextCode } from "./auth-helpers.ts";
import { api, problemOf, tokenFor } from "./helpers.ts";
import { poolStub, setAccrued, TestNode } from "./node-agent.ts";

// Issue 15, "payouts only of what was earned": what a NODE_OPERATOR may ask payments for.

async function operatorNode(accruedUnits: number, operatorId = `op-${crypto.randomUUID()}`) {
  const node = new TestNode(operatorId);
  const payoutAddress = createAccount().address;
  expect((await node.register({ payoutAddress })).status).toBe(201);
  await setAccrued(node, accruedUnits);
  const token = await tokenFor(operatorId, "NODE_OPERATOR");
  const pay = (body: Record<string, unknown>) =>
    api("/api/v1/payments/payouts", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({ nodeId: node.id, ...body }),
    });
  const view = async () =>
    (
      await (
        await api(`/api/v1/nodes/${node.id}`, { headers: { Authorization: `Bearer ${token}` } })
      ).json<{ node: { accrued: string; requested: string; payoutAddress: string; payoutAddressUsableAt: string | null } }>()
    ).node;
  const ledgerRows = () =>
    runInDurableObject(env.LEDGER.get(env.LEDGER.idFromName("ledger")), (_i, state) =>
      state.storage.sql
        .exec("SELECT amount, recipient, requested_by FROM payouts WHERE node_id = ? ORDER BY created_at", node.id)
        .toArray(),
    );
  return { node, token, payoutAddress, pay, view, ledgerRows };
}

describe("an operator's payout request", () => {
  it("is refused above the node's available earnings, and the refusal changes nothing", async () => {
    const op = await operatorNode(5_000_000); // 5 USDT earned
    const res = await op.pay({ amount: "5.000001" });
    expect(res.status).toBe(409);
    expect(await problemOf(res)).toMatchObject({ type: "/problems/payout-exceeds-earnings", available: "5.000000", requested: "5.000001" });
    // The attack in the issue: the non-KYC cap with nothing earned.
    expect((await op.pay({ amount: "1000" })).status).toBe(409);
    expect(await op.view()).toMatchObject({ accrued: "5.000000", requested: "0.000000" });
    expect(await op.ledgerRows()).toEqual([]);
  });

  it("is refused to any address but the node's registered one, changing nothing", async () => {
    const op = await operatorNode(20_000_000);
    const res = await op.pay({ amount: "5", recipient: createAccount().address });
    expect(res.status).toBe(403);
    expect(await problemOf(res)).toMatchObject({ type: "/problems/payout-address-mismatch", payoutAddress: op.payoutAddress });
    expect(await op.view()).toMatchObject({ accrued: "20.000000", requested: "0.000000" });
    expect(await op.ledgerRows()).toEqual([]);
    // Without a recipient (or with the registered one) it goes to the node's address.
    expect((await op.pay({ amount: "5" })).status).toBe(201);
    expect((await op.pay({ amount: "5", recipient: op.payoutAddress })).status).toBe(201);
    expect(await op.ledgerRows()).toEqual([
      { amount: 5_000_000, recipient: op.payoutAddress, requested_by: op.node.operatorId },
      { amount: 5_000_000, recipient: op.payoutAddress, requested_by: op.node.operatorId },
    ]);
  });

  it("cannot be repeated past what was earned: each request reserves its amount", async () => {
    const op = await operatorNode(10_000_000);
    expect((await op.pay({ amount: "6" })).status).toBe(201);
    const again = await op.pay({ amount: "6" });
    expect(again.status).toBe(409);
    expect(await problemOf(again)).toMatchObject({ available: "4.000000" });
    expect((await op.pay({ amount: "4" })).status).toBe(201);
    expect((await op.pay({ amount: "1" })).status).toBe(409);
    expect(await op.view()).toMatchObject({ accrued: "0.000000", requested: "10.000000" });
    expect((await op.ledgerRows()).map((r) => r.amount)).toEqual([6_000_000, 4_000_000]);
    // Concurrent requests for the whole balance: exactly one wins.
    const other = await operatorNode(8_000_000);
    const statuses = (await Promise.all([other.pay({ amount: "8" }), other.pay({ amount: "8" }), other.pay({ amount: "8" })])).map(
      (r) => r.status,
    );
    expect(statuses.sort()).toEqual([201, 409, 409]);
    expect((await other.ledgerRows()).map((r) => r.amount)).toEqual([8_000_000]);
  });

  it("names a node of the caller's own (404 for another operator's) and needs nodeId", async () => {
    const mine = await operatorNode(10_000_000);
    const theirs = await operatorNode(10_000_000);
    const res = await mine.pay({ amount: "1", nodeId: theirs.node.id });
    expect(res.status).toBe(404);
    expect(await theirs.view()).toMatchObject({ accrued: "10.000000" });
    const missing = await api("/api/v1/payments/payouts", {
      method: "POST",
      headers: { Authorization: `Bearer ${mine.token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({ amount: "1", recipient: mine.payoutAddress }),
    });
    expect(missing.status).toBe(400);
    expect(await problemOf(missing)).toMatchObject({ type: "/problems/validation-failed" });
  });
});

describe("changing a node's payout address", () => {
  it("needs a fresh step-up, then cools down before the new address can receive", async () => {
    const wallet = newWallet();
    const session = await login(wallet);
    const op = await operatorNode(30_000_000, session.user.id);
    const newAddress = createAccount().address;
    const change = (body: Record<string, unknown>) =>
      api(`/api/v1/nodes/${op.node.id}/payout-address`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${op.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ payoutAddress: newAddress, ...body }),
      });

    // No TOTP enrolled yet: refused; then a wrong code and a missing factor: refused.
    expect(await problemOf(await change({ totpCode: "123456" }))).toMatchObject({ type: "/problems/second-factor-required" });
    const { secret } = await enrolTotp(session.accessToken);
    expect(await problemOf(await change({ totpCode: "000000" }))).toMatchObject({ type: "/problems/second-factor-required" });
    expect((await change({})).status).toBe(400);
    expect(await op.view()).toMatchObject({ payoutAddress: op.payoutAddress, payoutAddressUsableAt: null });

    const before = Date.now();
    const changed = await change({ totpCode: nextCode(secret) });
    expect(changed.status).toBe(200);
    const node = await changed.json<{ payoutAddress: string; payoutAddressUsableAt: string }>();
    expect(node.payoutAddress).toBe(newAddress);
    expect(Date.parse(node.payoutAddressUsableAt) - before).toBeGreaterThanOrEqual(86_400_000); // PAYOUT_ADDRESS_COOLDOWN_SECONDS

    // Cooling down: neither a requested nor a threshold payout reaches it.
    const cooling = await op.pay({ amount: "5" });
    expect(cooling.status).toBe(409);
    expect(await problemOf(cooling)).toMatchObject({ type: "/problems/payout-address-cooling-down", usableAt: node.payoutAddressUsableAt });
    const auto = await api(`/api/v1/nodes/${op.node.id}/payouts`, { method: "POST", headers: { Authorization: `Bearer ${op.token}` } });
    expect(auto.status).toBe(409);
    expect(await problemOf(auto)).toMatchObject({ type: "/problems/payout-address-cooling-down" });
    expect(await op.view()).toMatchObject({ accrued: "30.000000", requested: "0.000000" });

    // Once the cool-down is over, the new address receives.
    await runInDurableObject(poolStub(op.node.pool), (_i, state) => {
      state.storage.sql.exec("UPDATE nodes SET payout_address_usable_at = ? WHERE id = ?", Date.now() - 1, op.node.id);
    });
    expect((await op.pay({ amount: "5", recipient: op.payoutAddress })).status).toBe(403); // the old one no longer
    const paid = await op.pay({ amount: "5" });
    expect(paid.status).toBe(201);
    expect(await paid.json()).toMatchObject({ recipient: newAddress, amount: "5.000000" });
  });

  it("is for the node's operator only", async () => {
    const op = await operatorNode(0);
    const stranger = await tokenFor(`op-${crypto.randomUUID()}`, "NODE_OPERATOR");
    const res = await api(`/api/v1/nodes/${op.node.id}/payout-address`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${stranger}`, "Content-Type": "application/json" },
      body: JSON.stringify({ payoutAddress: createAccount().address, totpCode: "123456" }),
    });
    expect(res.status).toBe(404);
    expect(await op.view()).toMatchObject({ payoutAddress: op.payoutAddress });
  });
});
