import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LedgerDO } from "../../durable-objects/ledger/index.ts";
import { createAccount } from "../../shared/tron/address.ts";
import { payoutIdFromMemo } from "../../shared/tron/memo.ts";
import { buildTransaction, signTransaction } from "../../shared/tron/transaction.ts";
import { transferData } from "../../shared/tron/trc20.ts";
import { double, fund, inspect, produce } from "./tron-double.ts";

// Issue 15, "paid once": one transaction per payout, one payout per transaction, and the
// chain checked against the ledger.

type Ledger = DurableObjectStub<LedgerDO>;
const USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"; // USDT_CONTRACT_ADDRESS in wrangler.toml

function freshLedger(): { id: DurableObjectId; stub: Ledger } {
  const id = env.LEDGER.idFromName(crypto.randomUUID());
  return { id, stub: env.LEDGER.get(id) };
}

/** A hot wallet whose key the test knows (imported), funded on the double. */
async function hotWallet(stub: Ledger) {
  const account = createAccount();
  const privateKey = Array.from(account.privateKey, (b) => b.toString(16).padStart(2, "0")).join("");
  const created = await stub.createWallet({ kind: "hot", label: "payouts", actor: "admin-1", privateKey });
  if (!created.ok) throw new Error(created.problem.detail);
  await fund(created.value.address, { trx: 10_000_000_000n, usdt: 100_000_000_000n });
  return { ...created.value, privateKey: account.privateKey };
}

async function approved(stub: Ledger, recipient: string, amount: string) {
  const requested = await stub.requestPayout({
    idempotencyKey: crypto.randomUUID(),
    recipient,
    amount,
    source: "admin",
    requestedBy: "admin-1",
  });
  if (!requested.ok) throw new Error(requested.problem.detail);
  const ok = await stub.approvePayout(requested.value.id, "admin-1");
  if (!ok.ok) throw new Error(ok.problem.detail);
  return requested.value.id;
}

async function payout(stub: Ledger, id: string) {
  const p = await stub.getPayout(id);
  if (!p.ok) throw new Error(p.problem.detail);
  return p.value;
}

/** Router passes and blocks until every payout is confirmed (solidified). */
async function settle(stub: Ledger, ids: string[]) {
  for (let pass = 0; pass < 10; pass++) {
    await stub.processPayouts();
    const states = await Promise.all(ids.map(async (id) => (await payout(stub, id)).state));
    if (states.every((s) => s === "confirmed")) return;
    await produce(20);
  }
  throw new Error("payouts did not settle");
}

const openAlerts = () => env.ADMIN.get(env.ADMIN.idFromName("admin")).listAlerts({ state: "open", limit: 200 });

describe("one transaction per payout", () => {
  it("two equal approved payouts in one batch become two transfers with two txids, each naming its payout", async () => {
    const { stub } = freshLedger();
    const wallet = await hotWallet(stub);
    const recipient = createAccount().address;
    const ids = [await approved(stub, recipient, "12.5"), await approved(stub, recipient, "12.5")];
    const summary = await stub.processPayouts();
    expect(summary.signed).toBe(2);
    expect(summary.broadcast).toBe(2);
    await settle(stub, ids);
    const [a, b] = await Promise.all(ids.map((id) => payout(stub, id)));
    expect(a!.txid).not.toBe(b!.txid);
    expect((await inspect(recipient)).transfersIn.map((t) => [t.txID, t.amount]).sort()).toEqual(
      [
        [a!.txid, "12400000"],
        [b!.txid, "12400000"],
      ].sort(),
    );
    for (const p of [a!, b!]) {
      const tx = await double<{ raw_data: { data?: string } }>("/wallet/gettransactionbyid", { value: p.txid });
      expect(payoutIdFromMemo(tx.raw_data.data)).toBe(p.id);
    }
    expect((await inspect(wallet.address)).transfersOut).toHaveLength(2);
  });

  it("a forced duplicate txid is refused and alerted, never two payouts confirmed on one transfer", async () => {
    const { stub } = freshLedger();
    await hotWallet(stub);
    const recipient = createAccount().address;
    const ids = [await approved(stub, recipient, "7"), await approved(stub, recipient, "7")];
    // As before memos: both payouts build the same transaction.
    await stub.injectMemolessBatch();
    const summary = await stub.processPayouts();
    expect(summary.signed).toBe(1);
    const [first, second] = await Promise.all(ids.map((id) => payout(stub, id)));
    expect(first!.state).toBe("broadcast");
    expect(second).toMatchObject({
      state: "requested",
      txid: null,
      approvedBy: null,
      heldReason: expect.stringContaining(`duplicate txid ${first!.txid}`),
    });
    const alerts = await openAlerts();
    expect(alerts).toContainEqual(
      expect.objectContaining({ key: `ledger:duplicate-txid:${first!.txid!.slice(0, 32)}`, severity: "critical", source: "payout-router" }),
    );
    await settle(stub, [first!.id]);
    expect((await inspect(recipient)).transfersIn.map((t) => t.txID)).toEqual([first!.txid]);
    expect(await payout(stub, second!.id)).toMatchObject({ state: "requested" });

    // An admin re-approves the held payout: it is paid with its own transaction.
    expect((await stub.approvePayout(second!.id, "admin-1")).ok).toBe(true);
    await settle(stub, [second!.id]);
    const paid = await payout(stub, second!.id);
    expect(paid.txid).not.toBe(first!.txid);
    expect((await inspect(recipient)).transfersIn.map((t) => t.txID).sort()).toEqual([first!.txid, paid.txid].sort());
  });

  it("the ledger's unique index refuses a second payout row with a txid already stored", async () => {
    const { stub } = freshLedger();
    await hotWallet(stub);
    const recipient = createAccount().address;
    const ids = [await approved(stub, recipient, "3"), await approved(stub, recipient, "3")];
    await stub.processPayouts();
    const [a, b] = await Promise.all(ids.map((id) => payout(stub, id)));
    await expect(
      runInDurableObject(stub, (_i, state) => {
        state.storage.sql.exec("UPDATE payouts SET txid = ? WHERE id = ?", a!.txid, b!.id);
      }),
    ).rejects.toThrow(/UNIQUE/);
    expect((await payout(stub, b!.id)).txid).toBe(b!.txid);
  });
});

describe("reconciliation of the hot wallet's transfers with the ledger", () => {
  it("finds nothing when they agree, and alerts on a transfer no payout accounts for or a payout that differs", async () => {
    const { stub } = freshLedger();
    const wallet = await hotWallet(stub);
    const recipient = createAccount().address;
    const id = await approved(stub, recipient, "20");
    await settle(stub, [id]);
    await produce(20);

    const clean = await stub.reconcileNow();
    expect(clean.ok && clean.value).toEqual([expect.objectContaining({ walletId: wallet.id, transfers: 1, payouts: 1, differences: [] })]);

    // Money leaves the hot wallet behind the ledger's back (a leaked key, a second signer).
    const head = await double<{ blockID: string; block_header: { raw_data: { number: number; timestamp: number } } }>(
      "/wallet/getnowblock",
    );
    const ref = { number: head.block_header.raw_data.number, blockID: head.blockID, timestamp: head.block_header.raw_data.timestamp };
    const thief = createAccount().address;
    const stolen = signTransaction(
      buildTransaction(
        { type: "TriggerSmartContract", owner: wallet.address, contract: USDT, data: transferData(thief, 5_000_000n) },
        ref,
        { feeLimit: 30_000_000n },
      ),
      wallet.privateKey,
    );
    expect((await double("/wallet/broadcasttransaction", stolen)).result).toBe(true);
    await produce(21);
    const found = await stub.reconcileNow();
    expect(found.ok && found.value[0]!.differences).toEqual([`transfer ${stolen.txID} of 5.000000 USDT to ${thief} matches no payout`]);
    const alert = (await openAlerts()).find((a) => a.key === `ledger:reconcile:${wallet.id}`);
    expect(alert).toMatchObject({ severity: "critical", source: "payout-reconciliation" });
    expect(alert!.detail).toContain(stolen.txID);

    // The ledger says another amount than the chain moved.
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE payouts SET net = 19000000 WHERE id = ?", id);
    });
    const differs = await stub.reconcileNow();
    expect(differs.ok && differs.value[0]!.differences).toContainEqual(
      expect.stringMatching(/moved 19\.900000 USDT .* is 19\.000000 USDT/),
    );
  });

  it("runs from the alarm every PAYOUT_RECONCILE_INTERVAL_SECONDS once a hot wallet exists", async () => {
    const { stub } = freshLedger();
    await hotWallet(stub);
    const runs = () =>
      runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT count(*) AS n FROM reconciliations").one().n as number);
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(await runs()).toBe(0);
    // Move the wallet's creation back past one interval: the next alarm reconciles.
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE wallets SET created_at = created_at - 601000");
    });
    await runDurableObjectAlarm(stub);
    expect(await runs()).toBe(1);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 500_000);
  });
});
