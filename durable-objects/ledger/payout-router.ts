import { and, asc, desc, eq, gte, inArray, isNull, ne, sql } from "drizzle-orm";
import { formatUnits } from "../../shared/money.ts";
import { CircuitOpenError } from "../../shared/tron/breaker.ts";
import { TronUnavailableError } from "../../shared/tron/client.ts";
import { logEvent } from "../../shared/log.ts";
import { payoutMemo } from "../../shared/tron/memo.ts";
import { buildTransaction, type ContractSpec, type TronTransaction } from "../../shared/tron/transaction.ts";
import { transferData } from "../../shared/tron/trc20.ts";
import type { LedgerDeps } from "./deps.ts";
import { RefusalError, outcome, type Outcome } from "../../shared/outcome.ts";
import { parseAmount, payoutRange, requireAddress } from "./rules.ts";
import * as schema from "./schema.ts";
import { iso, payoutView, type PayoutRow, type PayoutView, type ProcessSummary, type WalletRow } from "./views.ts";
import { wakeBy } from "../scheduler.ts";

/**
 * The payout router: each payout is a persisted state machine
 * requested → approved → signed → broadcast → confirmed | failed. The signed transaction and its
 * txid are stored before any broadcast; in-flight payouts are reconciled against the chain before
 * anything is signed again, and a new transaction is signed only once the old one is provably dead.
 */
/** Who approves automatic payouts inside the policy (recorded as approvedBy). */
export const AUTO_APPROVER = "policy:auto-payout";
const DAY_MS = 24 * 3600 * 1000;

export class PayoutRouter {
  readonly #d: LedgerDeps;

  constructor(deps: LedgerDeps) {
    this.#d = deps;
  }

  #requireKyc(recipient: string, amount: bigint): void {
    const threshold = this.#d.config().KYC_REQUIRED_ABOVE;
    if (amount <= threshold) return;
    const flag = this.#d.db.select().from(schema.kyc).where(eq(schema.kyc.address, recipient)).get();
    if (!flag?.verified) {
      throw new RefusalError("kyc-required", `Payouts above ${formatUnits(threshold)} USDT need the recipient's KYC flag.`, {
        threshold: formatUnits(threshold),
      });
    }
  }

  async requestPayout(input: {
    idempotencyKey: string;
    recipient: string;
    amount: string;
    source: "node" | "admin";
    requestedBy: string;
    nodeId?: string;
    automatic?: boolean;
  }): Promise<Outcome<PayoutView>> {
    return outcome(() => {
      const config = this.#d.config();
      const recipient = requireAddress(input.recipient, "recipient");
      const amount = parseAmount(input.amount, payoutRange(config));
      const existing = this.#d.db.select().from(schema.payouts).where(eq(schema.payouts.idempotencyKey, input.idempotencyKey)).get();
      if (existing) {
        if (existing.recipient !== recipient || existing.amount !== amount) {
          throw new RefusalError("idempotency-key-reused", "This idempotency key belongs to a different payout.");
        }
        return payoutView(existing);
      }
      this.#requireKyc(recipient, amount);
      const now = Date.now();
      const fee = config.PAYOUT_FEE;
      const row = {
        id: crypto.randomUUID(),
        idempotencyKey: input.idempotencyKey,
        recipient,
        amount,
        fee,
        net: amount - fee,
        source: input.source,
        requestedBy: input.requestedBy,
        nodeId: input.nodeId ?? null,
        automatic: input.automatic ?? false,
        state: "requested" as const,
        createdAt: now,
        updatedAt: now,
      };
      this.#d.ctx.storage.transactionSync(() => {
        this.#d.db.insert(schema.payouts).values(row).run();
        this.#event(row.id, null, "requested", `by ${input.requestedBy}`);
      });
      return payoutView(this.#payout(row.id));
    });
  }

  #payout(id: string): PayoutRow {
    const row = this.#d.db.select().from(schema.payouts).where(eq(schema.payouts.id, id)).get();
    if (!row) throw new RefusalError("not-found", `No payout ${id}.`);
    return row;
  }

  #event(payoutId: string, from: string | null, to: string, detail?: string): void {
    this.#d.db
      .insert(schema.payoutEvents)
      .values({ payoutId, fromState: from, toState: to, at: Date.now(), detail: detail ?? null })
      .run();
  }

  /** Moves a payout only if it is still in `from` (a compare-and-set on the state). */
  #transition(row: PayoutRow, to: schema.PayoutState, set: Partial<PayoutRow> = {}, detail?: string): void {
    this.#d.ctx.storage.transactionSync(() => {
      const changed = this.#d.db
        .update(schema.payouts)
        .set({ ...set, state: to, updatedAt: Date.now() })
        .where(and(eq(schema.payouts.id, row.id), eq(schema.payouts.state, row.state)))
        .returning({ id: schema.payouts.id })
        .all();
      if (changed.length !== 1) throw new Error(`payout ${row.id} left state ${row.state} concurrently`);
      this.#event(row.id, row.state, to, detail);
    });
  }

  async getPayout(
    id: string,
  ): Promise<Outcome<PayoutView & { events: { from: string | null; to: string; at: string; detail: string | null }[] }>> {
    return outcome(() => {
      const row = this.#payout(id);
      const events = this.#d.db
        .select()
        .from(schema.payoutEvents)
        .where(eq(schema.payoutEvents.payoutId, id))
        .orderBy(asc(schema.payoutEvents.id))
        .all();
      return { ...payoutView(row), events: events.map((e) => ({ from: e.fromState, to: e.toState, at: iso(e.at)!, detail: e.detail })) };
    });
  }

  async listPayouts(filter: { state?: schema.PayoutState; recipient?: string; limit?: number } = {}): Promise<PayoutView[]> {
    const where = and(
      filter.state ? eq(schema.payouts.state, filter.state) : undefined,
      filter.recipient ? eq(schema.payouts.recipient, filter.recipient) : undefined,
    );
    return this.#d.db
      .select()
      .from(schema.payouts)
      .where(where)
      .orderBy(desc(schema.payouts.createdAt))
      .limit(filter.limit ?? 100)
      .all()
      .map(payoutView);
  }

  async approvePayout(id: string, actor: string, walletId?: string): Promise<Outcome<PayoutView>> {
    return outcome(async () => {
      const row = this.#payout(id);
      if (row.state !== "requested") throw new RefusalError("conflict", `Payout ${id} is ${row.state}, not requested.`);
      this.#requireKyc(row.recipient, row.amount);
      const wallet = walletId ? this.#d.wallet(walletId) : this.#defaultHotWallet();
      this.#d.signer(wallet.id); // refuses watch-only wallets
      const { usdt, trx } = await this.#d.balances(wallet.address, true);
      const current = this.#payout(id); // re-read: the balance call yielded
      if (current.state !== "requested") throw new RefusalError("conflict", `Payout ${id} is ${current.state}, not requested.`);
      const committed = this.#d.db
        .select({ total: sql<number>`coalesce(sum(${schema.payouts.net}), 0)` })
        .from(schema.payouts)
        .where(and(eq(schema.payouts.walletId, wallet.id), inArray(schema.payouts.state, ["approved", "signed", "broadcast"])))
        .get();
      const available = usdt - BigInt(committed?.total ?? 0);
      if (available < current.net) {
        throw new RefusalError("insufficient-funds", `Wallet ${wallet.id} cannot cover ${formatUnits(current.net)} USDT.`, {
          available: formatUnits(available < 0n ? 0n : available),
          needed: formatUnits(current.net),
        });
      }
      // A TRC20 transfer burns TRX for energy unless the wallet has energy staked through us.
      const feeLimit = this.#d.config().TRON_FEE_LIMIT;
      const staked = this.#d.db
        .select({ n: sql<number>`count(*)` })
        .from(schema.stakes)
        .where(
          and(
            eq(schema.stakes.walletId, wallet.id),
            eq(schema.stakes.resource, "ENERGY"),
            inArray(schema.stakes.state, ["frozen", "unfreezing"]),
          ),
        )
        .get();
      if (!staked?.n && trx < feeLimit) {
        throw new RefusalError("insufficient-funds", `Wallet ${wallet.id} needs at least ${formatUnits(feeLimit)} TRX for energy.`, {
          available: formatUnits(trx),
          needed: formatUnits(feeLimit),
          asset: "TRX",
        });
      }
      this.#transition(current, "approved", { approvedBy: actor, walletId: wallet.id, heldReason: null }, `by ${actor}`);
      this.#d.audit(actor, "payout.approve", id, { walletId: wallet.id, net: formatUnits(current.net) });
      await this.scheduleBatch();
      return payoutView(this.#payout(id));
    });
  }

  /**
   * An automatic payout (a node's accrual at the threshold) is approved without an admin while it
   * stays inside the policy: at most AUTO_PAYOUT_NODE_DAILY_MAX to one node and AUTO_PAYOUT_DAILY_MAX
   * in all over the last 24 h. Outside it, or when approval is refused (no funds, KYC), it waits in
   * `requested` with a `heldReason`, and an alert tells the admins.
   */
  async autoApprove(id: string): Promise<PayoutView> {
    const row = this.#payout(id);
    if (!row.automatic || row.state !== "requested" || row.heldReason !== null) return payoutView(row);
    const config = this.#d.config();
    const since = Date.now() - DAY_MS;
    const autoSum = (nodeId?: string) =>
      BigInt(
        this.#d.db
          .select({ total: sql<number>`coalesce(sum(${schema.payouts.amount}), 0)` })
          .from(schema.payouts)
          .where(
            and(
              eq(schema.payouts.approvedBy, AUTO_APPROVER),
              ne(schema.payouts.state, "failed"),
              gte(schema.payouts.createdAt, since),
              nodeId ? eq(schema.payouts.nodeId, nodeId) : undefined,
            ),
          )
          .get()?.total ?? 0,
      );
    let held: string | null = null;
    if (row.nodeId && autoSum(row.nodeId) + row.amount > config.AUTO_PAYOUT_NODE_DAILY_MAX) {
      held = `over the per-node cap: ${formatUnits(config.AUTO_PAYOUT_NODE_DAILY_MAX)} USDT a day to node ${row.nodeId}`;
    } else if (autoSum() + row.amount > config.AUTO_PAYOUT_DAILY_MAX) {
      held = `over the daily cap: ${formatUnits(config.AUTO_PAYOUT_DAILY_MAX)} USDT of automatic payouts a day`;
    } else {
      const approved = await this.approvePayout(id, AUTO_APPROVER);
      if (approved.ok) return approved.value;
      if (approved.problem.slug === "service-unavailable") {
        // TRON could not be asked for the wallet's balance: not a reason for an admin; the router retries.
        this.#event(id, "requested", "requested", `automatic approval deferred: ${approved.problem.detail}`);
        await this.scheduleBatch();
        return payoutView(this.#payout(id));
      }
      held = `not approved automatically: ${approved.problem.detail}`;
    }
    const current = this.#payout(id);
    if (current.state !== "requested") return payoutView(current);
    this.#d.db.update(schema.payouts).set({ heldReason: held, updatedAt: Date.now() }).where(eq(schema.payouts.id, id)).run();
    this.#event(id, "requested", "requested", `held for review: ${held}`);
    await this.#d.alert({
      key: `ledger:payout-held:${id}`,
      severity: "warning",
      source: "payout-router",
      title: "An automatic payout is held for review",
      detail: `Payout ${id} of ${formatUnits(row.amount)} USDT to ${row.recipient}: ${held}.`,
    });
    return payoutView(this.#payout(id));
  }

  async rejectPayout(id: string, actor: string, reason: string): Promise<Outcome<PayoutView>> {
    return outcome(() => {
      const row = this.#payout(id);
      if (row.state !== "requested" && row.state !== "approved")
        throw new RefusalError("conflict", `Payout ${id} is ${row.state}; only requested or approved payouts can be rejected.`);
      this.#transition(row, "failed", { failureReason: `rejected: ${reason}` }, `rejected by ${actor}`);
      this.#d.audit(actor, "payout.reject", id, { reason });
      return payoutView(this.#payout(id));
    });
  }

  #defaultHotWallet(): WalletRow {
    const row = this.#d.db
      .select()
      .from(schema.wallets)
      .where(and(eq(schema.wallets.kind, "hot"), isNull(schema.wallets.deletedAt)))
      .orderBy(asc(schema.wallets.createdAt))
      .get();
    if (!row) throw new RefusalError("conflict", "No hot wallet exists to pay from.");
    return row;
  }

  #deferredAutomatic(): PayoutRow[] {
    return this.#d.db
      .select()
      .from(schema.payouts)
      .where(and(eq(schema.payouts.automatic, true), eq(schema.payouts.state, "requested"), isNull(schema.payouts.heldReason)))
      .orderBy(asc(schema.payouts.createdAt))
      .limit(this.#d.config().PAYOUT_BATCH_MAX)
      .all();
  }

  /** Batching: a full batch runs now, otherwise at the latest after the batch interval. */
  async scheduleBatch(): Promise<void> {
    const waiting = this.#d.db
      .select({ n: sql<number>`count(*)` })
      .from(schema.payouts)
      .where(eq(schema.payouts.state, "approved"))
      .get();
    const config = this.#d.config();
    const at = (waiting?.n ?? 0) >= config.PAYOUT_BATCH_MAX ? Date.now() : Date.now() + config.PAYOUT_BATCH_INTERVAL_SECONDS * 1000;
    await wakeBy(this.#d.ctx.storage, at);
  }

  async processOnce(): Promise<ProcessSummary> {
    const summary: ProcessSummary = { signed: 0, broadcast: 0, confirmed: 0, failed: 0, requeued: 0, inFlight: 0, waiting: 0 };
    try {
      const inFlight = this.#d.db
        .select()
        .from(schema.payouts)
        .where(inArray(schema.payouts.state, ["signed", "broadcast"]))
        .orderBy(asc(schema.payouts.createdAt))
        .all();
      for (const row of inFlight) await this.#reconcile(row, summary);
      await this.#d.reconcileStakes();

      // Automatic payouts whose approval had to wait (TRON unreachable) are approved or held now.
      for (const row of this.#deferredAutomatic()) await this.autoApprove(row.id);
      const batch = this.#d.db
        .select()
        .from(schema.payouts)
        .where(eq(schema.payouts.state, "approved"))
        .orderBy(asc(schema.payouts.updatedAt))
        .limit(this.#d.config().PAYOUT_BATCH_MAX)
        .all();
      if (batch.length > 0) await this.#signAndBroadcast(batch, summary);
    } catch (error) {
      if (!(error instanceof TronUnavailableError || error instanceof CircuitOpenError)) throw error;
      logEvent("warn", "payouts.tron_unavailable", { error: error.message });
    }
    const count = (states: schema.PayoutState[]) =>
      this.#d.db
        .select({ n: sql<number>`count(*)` })
        .from(schema.payouts)
        .where(inArray(schema.payouts.state, states))
        .get()?.n ?? 0;
    const stakesInFlight =
      this.#d.db
        .select({ n: sql<number>`count(*)` })
        .from(schema.stakes)
        .where(inArray(schema.stakes.state, ["freezing", "unfreezing", "withdrawing"]))
        .get()?.n ?? 0;
    summary.inFlight = count(["signed", "broadcast"]) + stakesInFlight;
    summary.waiting = count(["approved"]) + this.#deferredAutomatic().length;
    return summary;
  }

  async #signAndBroadcast(batch: PayoutRow[], summary: ProcessSummary): Promise<void> {
    const ref = await this.#d.tron().nowBlock();
    const feeLimit = this.#d.config().TRON_FEE_LIMIT;
    const batchId = crypto.randomUUID();
    const memoless = this.#d.memoless();
    const signed: { row: PayoutRow; tx: TronTransaction }[] = [];
    for (const row of batch) {
      const signer = this.#d.signer(row.walletId!);
      const spec: ContractSpec = {
        type: "TriggerSmartContract",
        owner: signer.address,
        contract: this.#d.config().USDT_CONTRACT_ADDRESS,
        data: transferData(row.recipient, row.net),
      };
      // The payout id rides in raw_data.data: equal payouts (same wallet, recipient, amount, block) still differ.
      const memo = memoless ? undefined : payoutMemo(row.id);
      signed.push({ row, tx: signer.sign(buildTransaction(spec, ref, { feeLimit, memo })) });
    }
    // A txid already stored for another payout (or twice in this batch) would confirm two payouts
    // with one transfer: that payout is not sent, it goes back to an admin, and an alert is raised.
    const owners = new Map<string, string>();
    const fresh: typeof signed = [];
    const duplicates: { row: PayoutRow; txid: string; other: string }[] = [];
    for (const entry of signed) {
      const stored = this.#d.db
        .select({ id: schema.payouts.id })
        .from(schema.payouts)
        .where(and(eq(schema.payouts.txid, entry.tx.txID), ne(schema.payouts.id, entry.row.id)))
        .get();
      const other = owners.get(entry.tx.txID) ?? stored?.id;
      if (other) duplicates.push({ row: entry.row, txid: entry.tx.txID, other });
      else {
        owners.set(entry.tx.txID, entry.row.id);
        fresh.push(entry);
      }
    }
    this.#d.crashPoint("signed-unsaved");
    // The signed transactions and their txids are durable before the first broadcast.
    const now = Date.now();
    this.#d.ctx.storage.transactionSync(() => {
      for (const { row, tx } of fresh) {
        this.#transition(
          row,
          "signed",
          {
            txJson: tx,
            txid: tx.txID,
            expiration: tx.raw_data.expiration,
            attempts: row.attempts + 1,
            firstSignedAt: row.firstSignedAt ?? now,
            batchId,
          },
          `txid ${tx.txID}`,
        );
      }
      for (const { row, txid, other } of duplicates) {
        this.#transition(
          row,
          "requested",
          { approvedBy: null, walletId: null, heldReason: `duplicate txid ${txid} (payout ${other}); not sent` },
          `refused: txid ${txid} belongs to payout ${other}`,
        );
      }
    });
    for (const { row, txid, other } of duplicates) {
      this.#d.audit("payout-router", "payout.duplicate_txid", row.id, { txid, other });
      await this.#d.alert({
        key: `ledger:duplicate-txid:${txid.slice(0, 32)}`,
        severity: "critical",
        source: "payout-router",
        title: "A payout's transaction duplicated another payout's; it was not sent",
        detail: `Payout ${row.id} signed txid ${txid}, which is payout ${other}'s. It is back in 'requested' for review.`,
      });
    }
    summary.signed += fresh.length;
    this.#d.crashPoint("signed");
    for (const { row, tx } of fresh) await this.#broadcast(this.#payout(row.id), tx, summary, true);
  }

  /**
   * Sends a stored transaction. `firstSend` is true only right after signing: a refusal then is
   * final. A re-send may follow a send whose outcome was lost, so the network may still hold
   * the transaction even if this node now refuses it: then the payout waits until it is provably dead.
   */
  async #broadcast(row: PayoutRow, tx: TronTransaction, summary: ProcessSummary, firstSend: boolean): Promise<void> {
    let result;
    try {
      result = await this.#d.tron().broadcast(tx);
    } catch (error) {
      if (!(error instanceof TronUnavailableError || error instanceof CircuitOpenError)) throw error;
      // Outcome unknown: the row stays `signed` and the same transaction is checked and re-sent later.
      this.#event(row.id, row.state, row.state, `broadcast outcome unknown: ${error.message}`);
      return;
    }
    this.#d.crashPoint("broadcast-sent");
    if (result.accepted) {
      this.#transition(row, "broadcast", {}, result.duplicate ? "node already had it" : "accepted");
      summary.broadcast++;
      this.#d.crashPoint("broadcast-recorded");
    } else if (result.code === "TAPOS_ERROR" || result.code === "TRANSACTION_EXPIRATION_ERROR") {
      // Stale reference: the tx can never be included; reconcile re-queues it once that is provable.
      this.#event(row.id, row.state, row.state, `broadcast refused: ${result.code}`);
    } else if (!firstSend) {
      this.#event(row.id, row.state, row.state, `re-send refused (${result.code}); waiting until the transaction is provably dead`);
    } else {
      this.#transition(row, "failed", { failureReason: `${result.code}: ${result.message}` }, "broadcast refused");
      summary.failed++;
      await this.#failedAlert(row.id);
    }
  }

  /** A payout that failed raises `ledger:payout-failed:<id>` (rule payout_failed); an admin resolves it. */
  async #failedAlert(id: string): Promise<void> {
    const row = this.#payout(id);
    await this.#d.alert({
      key: `ledger:payout-failed:${id}`,
      severity: "critical",
      source: "payout-router",
      title: `A payout of ${formatUnits(row.amount)} USDT failed`,
      detail: `Payout ${id} to ${row.recipient}: ${row.failureReason ?? "failed"}.`.slice(0, 2000),
    });
  }

  /** Checks a signed/broadcast payout's txid on the chain before anything else happens to it. */
  async #reconcile(row: PayoutRow, summary: ProcessSummary): Promise<void> {
    const txid = row.txid!;
    const solid = await this.#d.tron().transactionInfo(txid, true);
    if (solid) {
      if (solid.success) {
        this.#transition(row, "confirmed", { blockNumber: solid.blockNumber }, `solidified in block ${solid.blockNumber}`);
        summary.confirmed++;
        this.#d.crashPoint("confirmed");
      } else {
        this.#transition(
          row,
          "failed",
          { blockNumber: solid.blockNumber, failureReason: `on-chain result ${solid.result}` },
          "failed on chain",
        );
        summary.failed++;
        await this.#failedAlert(row.id);
      }
      return;
    }
    const included = await this.#d.tron().transactionInfo(txid);
    if (included) {
      if (row.state === "signed")
        this.#transition(row, "broadcast", { blockNumber: included.blockNumber }, `found in block ${included.blockNumber}`);
      return;
    }
    const solidHead = await this.#d.tron().nowBlock(true);
    if (solidHead.timestamp > row.expiration!) {
      // Every block that could hold it is solid and none does: the transaction is dead.
      const timeoutMs = this.#d.config().TRANSACTION_TIMEOUT_SECONDS * 1000;
      if (Date.now() - (row.firstSignedAt ?? row.createdAt) > timeoutMs) {
        this.#transition(
          row,
          "failed",
          { failureReason: `not included within ${this.#d.config().TRANSACTION_TIMEOUT_SECONDS} s` },
          "timed out",
        );
        summary.failed++;
        await this.#failedAlert(row.id);
      } else {
        this.#transition(row, "approved", {}, `txid ${txid} expired unincluded; will be signed anew`);
        summary.requeued++;
      }
      return;
    }
    if (row.state === "signed") await this.#broadcast(row, row.txJson!, summary, false);
  }
}
