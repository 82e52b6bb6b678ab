import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CRASH_POINTS, type LedgerDO } from "../../durable-objects/ledger/index.ts";
import { createAccount, toHexAddress } from "../../shared/tron/address.ts";
import { advanceTime, broadcasts, burn, clearFaults, fault, fund, inspect, produce } from "./tron-double.ts";

type Ledger = DurableObjectStub<LedgerDO>;

function freshLedger(): { id: DurableObjectId; stub: Ledger } {
  const id = env.LEDGER.idFromName(crypto.randomUUID());
  return { id, stub: env.LEDGER.get(id) };
}

async function hotWallet(stub: Ledger, usdt = 100_000_000_000n) {
  const created = await stub.createWallet({ kind: "hot", label: "payouts", actor: "admin-1" });
  if (!created.ok) throw new Error(created.problem.detail);
  await fund(created.value.address, { trx: 10_000_000_000n, usdt });
  return created.value;
}

async function approvedPayout(stub: Ledger, amount: string) {
  const recipient = createAccount().address;
  if (Number(amount) > 1000) await stub.setKyc(recipient, true, "admin-1");
  const requested = await stub.requestPayout({
    idempotencyKey: crypto.randomUUID(),
    recipient,
    amount,
    source: "admin",
    requestedBy: "admin-1",
  });
  if (!requested.ok) throw new Error(requested.problem.detail);
  const approved = await stub.approvePayout(requested.value.id, "admin-1");
  if (!approved.ok) throw new Error(approved.problem.detail);
  return { id: requested.value.id, recipient };
}

/** Runs router passes and makes blocks until every payout is final; returns how often the object crashed. */
async function settle(ledger: { id: DurableObjectId; stub: Ledger }, ids: string[], maxPasses = 12) {
  let crashes = 0;
  for (let pass = 0; pass < maxPasses; pass++) {
    try {
      await ledger.stub.processPayouts();
    } catch {
      crashes++;
      ledger.stub = env.LEDGER.get(ledger.id); // the old stub is broken after the abort
    }
    const states = await Promise.all(
      ids.map(async (id) => {
        const p = await ledger.stub.getPayout(id);
        return p.ok ? p.value.state : "missing";
      }),
    );
    if (states.every((s) => s === "confirmed" || s === "failed")) return { crashes, states };
    await produce(20);
  }
  throw new Error("payouts did not settle");
}

describe("payout router: exactly-once under crashes and lost responses", () => {
  for (const point of CRASH_POINTS) {
    it(`pays every payout exactly once when the object crashes after "${point}" (3 runs × 3 payouts)`, async () => {
      for (let run = 0; run < 3; run++) {
        const ledger = freshLedger();
        await hotWallet(ledger.stub);
        const payouts = [
          await approvedPayout(ledger.stub, "12.5"),
          await approvedPayout(ledger.stub, "1.0"),
          await approvedPayout(ledger.stub, "9999.999999"),
        ];
        await ledger.stub.injectCrash(point);
        const { crashes, states } = await settle(
          ledger,
          payouts.map((p) => p.id),
        );
        expect(crashes).toBe(1);
        expect(states).toEqual(["confirmed", "confirmed", "confirmed"]);
        const expected = ["12.4", "0.9", "9999.899999"].map((net) => String(BigInt(Math.round(Number(net) * 1e6))));
        for (const [i, payout] of payouts.entries()) {
          const account = await inspect(payout.recipient);
          expect(account.transfersIn.map((t) => t.amount)).toEqual([expected[i]]);
        }
      }
    });
  }

  it("pays exactly once under random sequences of crashes and lost broadcast responses (property, 12 runs)", async () => {
    let totalCrashes = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1_000_000, max: 2_000_000_000 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.constantFrom(...CRASH_POINTS), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 2 }),
        async (amounts, crashes, lostResponses) => {
          const ledger = freshLedger();
          const wallet = await hotWallet(ledger.stub);
          const payouts = [];
          for (const units of amounts) payouts.push({ ...(await approvedPayout(ledger.stub, (units / 1e6).toFixed(6))), units });
          if (lostResponses)
            await fault({
              path: "/wallet/broadcasttransaction",
              kind: "lost-response",
              times: lostResponses,
              match: toHexAddress(wallet.address),
            });
          // Each injected point crashes the object if the run reaches it; some sequences make a
          // point unreachable (e.g. a lost response means no "broadcast-sent"), which is fine.
          const pending = [...crashes];
          for (let pass = 0; pass < 12; pass++) {
            if (pending.length) await ledger.stub.injectCrash(pending[0]!);
            try {
              await ledger.stub.processPayouts();
            } catch {
              totalCrashes++;
              pending.shift();
              ledger.stub = env.LEDGER.get(ledger.id);
            }
            const states = await Promise.all(
              payouts.map(async (p) => ((await ledger.stub.getPayout(p.id)) as { ok: true; value: { state: string } }).value.state),
            );
            if (states.every((s) => s === "confirmed")) break;
            await produce(20);
          }
          await clearFaults(toHexAddress(wallet.address));
          for (const p of payouts) {
            const got = await ledger.stub.getPayout(p.id);
            expect(got.ok && got.value.state).toBe("confirmed");
            expect((await inspect(p.recipient)).transfersIn.map((t) => t.amount)).toEqual([String(p.units - 100_000)]);
          }
        },
      ),
      { numRuns: 12 },
    );
    expect(totalCrashes).toBeGreaterThan(0);
  });

  it("a lost broadcast response leads to no second payment", async () => {
    const ledger = freshLedger();
    const wallet = await hotWallet(ledger.stub);
    const payout = await approvedPayout(ledger.stub, "25");
    // both the first attempt and the client's retry are applied by the node, but no answer arrives
    await fault({ path: "/wallet/broadcasttransaction", kind: "lost-response", times: 2, match: toHexAddress(wallet.address) });
    await ledger.stub.processPayouts();
    const signed = await ledger.stub.getPayout(payout.id);
    expect(signed.ok && signed.value.state).toBe("signed");
    const txid = signed.ok ? signed.value.txid! : "";
    expect((await broadcasts()).attempts[txid]).toBe(2);

    const { states } = await settle(ledger, [payout.id]);
    expect(states).toEqual(["confirmed"]);
    const account = await inspect(payout.recipient);
    expect(account.transfersIn).toEqual([{ txID: txid, from: wallet.address, amount: "24900000" }]);
    expect((await inspect(wallet.address)).transfersOut).toHaveLength(1);
  });

  it("re-signs only once the first transaction is provably dead (expired, every possible block solid)", async () => {
    const ledger = freshLedger();
    const wallet = await hotWallet(ledger.stub);
    const payout = await approvedPayout(ledger.stub, "3");
    await fault({ path: "/wallet/broadcasttransaction", kind: "error5xx", times: 1000, match: toHexAddress(wallet.address) });
    await ledger.stub.processPayouts();
    const first = await ledger.stub.getPayout(payout.id);
    if (!first.ok) throw new Error("missing payout");
    expect(first.value.state).toBe("signed");
    // not yet provably dead: the same transaction is re-sent, never a new one signed
    await produce(5);
    await ledger.stub.processPayouts();
    const again = await ledger.stub.getPayout(payout.id);
    expect(again.ok && again.value.txid).toBe(first.value.txid);
    expect(again.ok && again.value.attempts).toBe(1);
    // 40 blocks = 120 s: past the 60 s expiration, and the solid head is past it too
    await produce(40);
    await ledger.stub.processPayouts();
    const resigned = await ledger.stub.getPayout(payout.id);
    if (!resigned.ok) throw new Error("missing payout");
    expect(resigned.value.txid).not.toBe(first.value.txid);
    expect(resigned.value.attempts).toBe(2);
    expect(resigned.value.events.some((e) => e.to === "approved" && e.detail?.includes("expired unincluded"))).toBe(true);
    await clearFaults(toHexAddress(wallet.address));
    await settle(ledger, [payout.id]);
    const done = await ledger.stub.getPayout(payout.id);
    expect(done.ok && done.value.state).toBe("confirmed");
    expect((await inspect(payout.recipient)).transfersIn.map((t) => t.txID)).toEqual([resigned.value.txid]);
  });

  it("fails a payout, paying nothing, when no transaction got in within TRANSACTION_TIMEOUT_SECONDS", async () => {
    const ledger = freshLedger();
    const wallet = await hotWallet(ledger.stub);
    const payout = await approvedPayout(ledger.stub, "6");
    await fault({ path: "/wallet/broadcasttransaction", kind: "error5xx", times: 1000, match: toHexAddress(wallet.address) });
    await ledger.stub.processPayouts();
    // first signed 301 s ago (the clock cannot be moved inside workerd, so the row is aged instead)
    await runInDurableObject(ledger.stub, (_instance, state) =>
      state.storage.sql.exec("UPDATE payouts SET first_signed_at = first_signed_at - 301000"),
    );
    await produce(40);
    await ledger.stub.processPayouts();
    const failed = await ledger.stub.getPayout(payout.id);
    expect(failed.ok && failed.value.state).toBe("failed");
    expect(failed.ok && failed.value.failureReason).toBe("not included within 300 s");
    await clearFaults(toHexAddress(wallet.address));
    await produce(20);
    expect((await inspect(payout.recipient)).transfersIn).toEqual([]);
  });

  it("fails a payout whose transfer reverts on chain (the hot wallet lacks the USDT), and pays nothing", async () => {
    const ledger = freshLedger();
    const wallet = await hotWallet(ledger.stub, 50_000_000n);
    const payout = await approvedPayout(ledger.stub, "40");
    // the tokens leave the wallet behind the ledger's back before the batch runs
    await burn(wallet.address, 50_000_000n);
    const { states } = await settle(ledger, [payout.id]);
    expect(states).toEqual(["failed"]);
    const failed = await ledger.stub.getPayout(payout.id);
    expect(failed.ok && failed.value.failureReason).toBe("on-chain result REVERT");
    expect((await inspect(payout.recipient)).transfersIn).toEqual([]);
    // The payout_failed rule: an alert an admin sees (and webhooks/mail receive).
    const alerts = await env.ADMIN.get(env.ADMIN.idFromName("admin")).listAlerts({ state: "open", limit: 200 });
    expect(alerts.find((a) => a.key === `ledger:payout-failed:${payout.id}`)).toMatchObject({
      severity: "critical",
      source: "payout-router",
      detail: expect.stringContaining("REVERT"),
    });
  });
});

describe("TRX staking (Stake 2.0)", () => {
  const DAY = 24 * 3600 * 1000;

  it("freezes at least 1000 TRX, unfreezes only after STAKING_DURATION_DAYS, withdraws after TRON's 14 days", async () => {
    const ledger = freshLedger();
    const wallet = await hotWallet(ledger.stub);
    const key = () => crypto.randomUUID();
    const tooSmall = await ledger.stub.stake({
      idempotencyKey: key(),
      walletId: wallet.id,
      amount: "999.999999",
      resource: "ENERGY",
      actor: "admin-1",
    });
    expect(!tooSmall.ok && tooSmall.problem.slug).toBe("invalid-amount");
    const tooMuch = await ledger.stub.stake({
      idempotencyKey: key(),
      walletId: wallet.id,
      amount: "20000",
      resource: "ENERGY",
      actor: "admin-1",
    });
    expect(!tooMuch.ok && tooMuch.problem.slug).toBe("insufficient-funds");

    const staked = await ledger.stub.stake({
      idempotencyKey: key(),
      walletId: wallet.id,
      amount: "1000",
      resource: "ENERGY",
      actor: "admin-1",
    });
    if (!staked.ok) throw new Error(staked.problem.detail);
    expect(staked.value.state).toBe("freezing");
    expect(staked.value.rewardRate).toBe("0.1");
    await produce(20);
    await ledger.stub.processPayouts();
    let [stake] = await ledger.stub.listStakes();
    expect(stake!.state).toBe("frozen");
    expect((await inspect(wallet.address)).frozenEnergy).toBe("1000000000");

    const early = await ledger.stub.unstake(stake!.id, "admin-1");
    expect(!early.ok && early.problem.slug).toBe("conflict");
    expect(!early.ok && early.problem.extensions?.lockedUntil).toBe(stake!.unfreezeAfter);

    await advanceTime(3 * DAY);
    await produce(1);
    const unfreezing = await ledger.stub.unstake(stake!.id, "admin-1");
    expect(unfreezing.ok && unfreezing.value.state).toBe("unfreezing");
    await produce(20);
    await ledger.stub.processPayouts();
    [stake] = await ledger.stub.listStakes();
    expect(stake!.state).toBe("unfrozen");
    expect(BigInt(stake!.accruedReward.replace(".", ""))).toBeGreaterThan(0n);

    const tooEarly = await ledger.stub.withdrawStake(stake!.id, "admin-1");
    expect(!tooEarly.ok && tooEarly.problem.slug).toBe("conflict");
    await advanceTime(14 * DAY);
    await produce(1);
    const withdrawing = await ledger.stub.withdrawStake(stake!.id, "admin-1");
    expect(withdrawing.ok && withdrawing.value.state).toBe("withdrawing");
    await produce(20);
    await ledger.stub.processPayouts();
    [stake] = await ledger.stub.listStakes();
    expect(stake!.state).toBe("withdrawn");
    expect((await inspect(wallet.address)).trx).toBe("10000000000");
  });

  it("refuses to stake from a watch-only wallet", async () => {
    const ledger = freshLedger();
    const cold = await ledger.stub.createWallet({ kind: "cold", label: "vault", address: createAccount().address, actor: "admin-1" });
    if (!cold.ok) throw new Error(cold.problem.detail);
    const refused = await ledger.stub.stake({
      idempotencyKey: crypto.randomUUID(),
      walletId: cold.value.id,
      amount: "1000",
      resource: "BANDWIDTH",
      actor: "admin-1",
    });
    expect(!refused.ok && refused.problem.detail).toMatch(/watch-only/);
  });
});

describe("batching and idempotency records", () => {
  it("batches by time: one approval schedules the alarm PAYOUT_BATCH_INTERVAL_SECONDS ahead; the alarm signs and broadcasts", async () => {
    const ledger = freshLedger();
    await hotWallet(ledger.stub);
    const before = Date.now();
    const payout = await approvedPayout(ledger.stub, "4");
    const alarm = await runInDurableObject(ledger.stub, (_instance, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm! - before).toBeGreaterThanOrEqual(59_000);
    expect(alarm! - before).toBeLessThanOrEqual(61_000 + (Date.now() - before));
    expect(await runDurableObjectAlarm(ledger.stub)).toBe(true);
    const after = await ledger.stub.getPayout(payout.id);
    expect(after.ok && after.value.state).toBe("broadcast");
    // in flight: the alarm polls again about one block later
    const next = await runInDurableObject(ledger.stub, (_instance, state) => state.storage.getAlarm());
    expect(next).not.toBeNull();
    expect(next! - Date.now()).toBeLessThanOrEqual(3_000);
  });

  it("batches by count: PAYOUT_BATCH_MAX approvals bring the alarm forward to now", async () => {
    const ledger = freshLedger();
    await hotWallet(ledger.stub);
    for (let i = 0; i < 50; i++) await approvedPayout(ledger.stub, "1");
    const alarm = await runInDurableObject(ledger.stub, (_instance, state) => state.storage.getAlarm());
    expect(alarm! - Date.now()).toBeLessThanOrEqual(1_000);
    // the alarm may already be running on its own: processPayouts joins that pass or runs one
    await ledger.stub.processPayouts();
    const broadcast = await ledger.stub.listPayouts({ state: "broadcast", limit: 100 });
    expect(broadcast).toHaveLength(50);
  });

  it("answers 'in progress' for a fresh claim and takes over a claim whose request died", async () => {
    const ledger = freshLedger();
    expect(await ledger.stub.idempotencyBegin("u:/p:k1", "h1")).toEqual({ state: "new" });
    expect(await ledger.stub.idempotencyBegin("u:/p:k1", "h1")).toEqual({ state: "in-progress" });
    expect(await ledger.stub.idempotencyBegin("u:/p:k1", "h2")).toEqual({ state: "mismatch" });
    // the request that claimed it never finished: age the claim past the abandonment window
    await runInDurableObject(ledger.stub, (_instance, state) =>
      state.storage.sql.exec("UPDATE idempotency SET created_at = created_at - 61000"),
    );
    expect(await ledger.stub.idempotencyBegin("u:/p:k1", "h1")).toEqual({ state: "new" });
    await ledger.stub.idempotencyFinish("u:/p:k1", 201, '{"id":"x"}');
    expect(await ledger.stub.idempotencyBegin("u:/p:k1", "h1")).toEqual({ state: "replay", status: 201, body: '{"id":"x"}' });
  });
});
