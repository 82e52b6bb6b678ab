import { and, asc, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { loadConfig, type Config } from "../../shared/config.ts";
import type { Env } from "../../shared/env.ts";
import { logEvent } from "../../shared/log.ts";
import { formatUnits } from "../../shared/money.ts";
import { addressFromPrivateKey, createAccount } from "../../shared/tron/address.ts";
import { CircuitBreaker, CircuitOpenError } from "../../shared/tron/breaker.ts";
import { TronClient, TronRejectedError, TronUnavailableError } from "../../shared/tron/client.ts";
import { TRON_NETWORKS } from "../../shared/tron/networks.ts";
import { buildTransaction, signTransaction, type ContractSpec, type TronTransaction } from "../../shared/tron/transaction.ts";
import { transferData } from "../../shared/tron/trc20.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import { openBackup, openKey, parseWalletKey, sealBackup, sealKey, type BackupEnvelope } from "./keys.ts";
import { LedgerError, outcome, type Outcome } from "./outcome.ts";
import { accruedReward, parseAmount, payoutRange, ratePpm, requireAddress } from "./rules.ts";
import * as schema from "./schema.ts";

type WalletRow = typeof schema.wallets.$inferSelect;
type PayoutRow = typeof schema.payouts.$inferSelect;
type StakeRow = typeof schema.stakes.$inferSelect;
export type WalletKind = WalletRow["kind"];

/** Points in a payout's life after which tests may inject a crash (LUCID_ENV=test only). */
export const CRASH_POINTS = ["signed-unsaved", "signed", "broadcast-sent", "broadcast-recorded", "confirmed"] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** TRON's own wait between unfreezing and withdrawing (Stake 2.0). */
const TRON_UNFREEZE_WAIT_MS = 14 * 24 * 3600 * 1000;
/** An Idempotency-Key claim older than this without an answer belongs to a request that died. */
const IDEMPOTENCY_ABANDONED_MS = 60_000;
/** Poll cadence for in-flight transactions: about one TRON block. */
const CONFIRM_POLL_MS = 3_000;

export interface WalletView {
  id: string;
  kind: WalletKind;
  label: string;
  address: string;
  watchOnly: boolean;
  owners: string[] | null;
  threshold: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface PayoutView {
  id: string;
  recipient: string;
  amount: string;
  fee: string;
  net: string;
  source: "node" | "admin";
  requestedBy: string;
  state: schema.PayoutState;
  approvedBy: string | null;
  walletId: string | null;
  txid: string | null;
  attempts: number;
  blockNumber: number | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StakeView {
  id: string;
  walletId: string;
  amount: string;
  resource: "ENERGY" | "BANDWIDTH";
  state: schema.StakeState;
  txid: string | null;
  rewardRate: string;
  accruedReward: string;
  frozenAt: string | null;
  unfreezeAfter: string | null;
  withdrawableAt: string | null;
  failureReason: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function walletView(row: WalletRow): WalletView {
  return {
    id: row.id,
    kind: row.kind,
    label: row.label,
    address: row.address,
    watchOnly: row.kind !== "hot",
    owners: row.owners ? (JSON.parse(row.owners) as string[]) : null,
    threshold: row.threshold,
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

function payoutView(row: PayoutRow): PayoutView {
  return {
    id: row.id,
    recipient: row.recipient,
    amount: formatUnits(row.amount),
    fee: formatUnits(row.fee),
    net: formatUnits(row.net),
    source: row.source,
    requestedBy: row.requestedBy,
    state: row.state,
    approvedBy: row.approvedBy,
    walletId: row.walletId,
    txid: row.txid,
    attempts: row.attempts,
    blockNumber: row.blockNumber,
    failureReason: row.failureReason,
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

/**
 * The ledger: wallets (hot keys sealed with WALLET_ENCRYPTION_KEY, which is read nowhere else),
 * KYC flags, payouts, stakes and idempotency records. One instance ("ledger") is the single
 * writer of all of it, so payout state changes are serialised and a payout is paid at most once.
 */
export class LedgerDO extends SqlDurableObject<typeof schema, Env> {
  #client: TronClient | undefined;
  #processing: Promise<ProcessSummary> | undefined;
  #crashAt: CrashPoint | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
  }

  get #config(): Config {
    return loadConfig(this.env);
  }

  get #tron(): TronClient {
    if (!this.#client) {
      const c = this.#config;
      this.#client = new TronClient({
        rpcUrl: c.TRON_RPC_URL || TRON_NETWORKS[c.TRON_NETWORK].rpcUrl,
        apiKey: c.TRON_API_KEY || undefined,
        timeoutMs: c.TRON_TIMEOUT_MS,
        retries: c.TRON_MAX_RETRIES,
        breaker: new CircuitBreaker(c.TRON_BREAKER_THRESHOLD, c.TRON_BREAKER_COOLDOWN_SECONDS * 1000),
      });
    }
    return this.#client;
  }

  get #usdt(): string {
    return this.#config.USDT_CONTRACT_ADDRESS;
  }

  /** Runs a TRON call; an unreachable node becomes a 503 problem, a rejection a 409. */
  async #chain<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof TronUnavailableError || error instanceof CircuitOpenError) {
        throw new LedgerError("service-unavailable", `The TRON node is unavailable: ${error.message}`);
      }
      if (error instanceof TronRejectedError) throw new LedgerError("conflict", `The TRON node refused: ${error.message}`);
      throw error;
    }
  }

  #audit(actor: string, action: string, subject: string, detail: Record<string, unknown> = {}): void {
    this.db.insert(schema.audit).values({ at: Date.now(), actor, action, subject, detail: JSON.stringify(detail) }).run();
  }

  // ── wallets ────────────────────────────────────────────────────────────────────────────

  async createWallet(input: {
    kind: WalletKind;
    label: string;
    actor: string;
    address?: string;
    /** hot only: import this key (hex) instead of generating one. */
    privateKey?: string;
    owners?: string[];
    threshold?: number;
  }): Promise<Outcome<WalletView>> {
    await this.ready();
    return outcome(() => {
      const id = crypto.randomUUID();
      const now = Date.now();
      let address: string;
      let encryptedKey: string | null = null;
      if (input.kind === "hot") {
        if (input.address !== undefined) throw new LedgerError("validation-failed", "A hot wallet's address comes from its key; do not send one.");
        let key: Uint8Array;
        if (input.privateKey !== undefined) {
          if (!/^[0-9a-fA-F]{64}$/.test(input.privateKey)) throw new LedgerError("validation-failed", "privateKey must be 64 hex characters.");
          key = Uint8Array.from(input.privateKey.match(/../g)!.map((h) => parseInt(h, 16)));
          try {
            address = addressFromPrivateKey(key);
          } catch {
            throw new LedgerError("validation-failed", "privateKey is not a valid secp256k1 key.");
          }
        } else {
          ({ privateKey: key, address } = createAccount());
        }
        encryptedKey = sealKey(parseWalletKey(this.#config.WALLET_ENCRYPTION_KEY), id, key);
        key.fill(0);
      } else {
        if (input.privateKey !== undefined) throw new LedgerError("validation-failed", `A ${input.kind} wallet is watch-only: it never holds a key.`);
        address = requireAddress(input.address);
      }
      if (input.kind === "multisig") {
        const owners = (input.owners ?? []).map((o) => requireAddress(o, "owner"));
        if (owners.length < 2 || new Set(owners).size !== owners.length) throw new LedgerError("validation-failed", "A multisig wallet needs at least two distinct owners.");
        const threshold = input.threshold ?? 0;
        if (!Number.isInteger(threshold) || threshold < 1 || threshold > owners.length) {
          throw new LedgerError("validation-failed", "threshold must be between 1 and the number of owners.");
        }
        input = { ...input, owners, threshold };
      } else if (input.owners !== undefined || input.threshold !== undefined) {
        throw new LedgerError("validation-failed", "owners and threshold apply to multisig wallets only.");
      }
      const active = this.db.select().from(schema.wallets).where(and(eq(schema.wallets.address, address), isNull(schema.wallets.deletedAt))).get();
      if (active) throw new LedgerError("conflict", `A wallet for ${address} already exists (${active.id}).`);
      const row = {
        id,
        kind: input.kind,
        label: input.label,
        address,
        encryptedKey,
        owners: input.owners ? JSON.stringify(input.owners) : null,
        threshold: input.threshold ?? null,
        createdAt: now,
        updatedAt: now,
      };
      this.db.insert(schema.wallets).values(row).run();
      this.#audit(input.actor, input.privateKey ? "wallet.import" : "wallet.create", id, { kind: input.kind, address });
      return walletView({ ...row, deletedAt: null });
    });
  }

  async listWallets(): Promise<WalletView[]> {
    await this.ready();
    return this.db.select().from(schema.wallets).where(isNull(schema.wallets.deletedAt)).orderBy(asc(schema.wallets.createdAt)).all().map(walletView);
  }

  #wallet(id: string): WalletRow {
    const row = this.db.select().from(schema.wallets).where(and(eq(schema.wallets.id, id), isNull(schema.wallets.deletedAt))).get();
    if (!row) throw new LedgerError("not-found", `No wallet ${id}.`);
    return row;
  }

  async getWallet(id: string, refresh = false): Promise<Outcome<WalletView & { balances: { trx: string; usdt: string; fetchedAt: string } }>> {
    await this.ready();
    return outcome(async () => {
      const row = this.#wallet(id);
      const balances = await this.#balances(row.address, refresh);
      return { ...walletView(row), balances: { trx: formatUnits(balances.trx), usdt: formatUnits(balances.usdt), fetchedAt: iso(balances.fetchedAt)! } };
    });
  }

  /** TRX and USDT balances, from the cache when younger than BALANCE_CACHE_TTL_SECONDS. */
  async #balances(address: string, refresh: boolean): Promise<{ trx: bigint; usdt: bigint; fetchedAt: number }> {
    const cached = this.db.select().from(schema.balanceCache).where(eq(schema.balanceCache.address, address)).get();
    const ttl = this.#config.BALANCE_CACHE_TTL_SECONDS * 1000;
    if (cached && !refresh && Date.now() - cached.fetchedAt < ttl) return cached;
    const [account, usdt] = await this.#chain(() => Promise.all([this.#tron.account(address), this.#tron.trc20Balance(this.#usdt, address)]));
    const fresh = { address, trx: account.balance, usdt, fetchedAt: Date.now() };
    this.db.insert(schema.balanceCache).values(fresh).onConflictDoUpdate({ target: schema.balanceCache.address, set: fresh }).run();
    return fresh;
  }

  async updateWallet(id: string, patch: { label: string }, actor: string): Promise<Outcome<WalletView>> {
    await this.ready();
    return outcome(() => {
      this.#wallet(id);
      this.db.update(schema.wallets).set({ label: patch.label, updatedAt: Date.now() }).where(eq(schema.wallets.id, id)).run();
      this.#audit(actor, "wallet.update", id, patch);
      return walletView(this.#wallet(id));
    });
  }

  async deleteWallet(id: string, actor: string): Promise<Outcome<{ deleted: true }>> {
    await this.ready();
    return outcome(() => {
      this.#wallet(id);
      const busy = this.db
        .select({ n: sql<number>`count(*)` })
        .from(schema.payouts)
        .where(and(eq(schema.payouts.walletId, id), inArray(schema.payouts.state, ["approved", "signed", "broadcast"])))
        .get();
      if (busy && busy.n > 0) throw new LedgerError("conflict", `Wallet ${id} has ${busy.n} payouts in flight.`);
      // Soft delete: the sealed key is wiped, the row stays for history.
      this.db.update(schema.wallets).set({ deletedAt: Date.now(), encryptedKey: null, updatedAt: Date.now() }).where(eq(schema.wallets.id, id)).run();
      this.#audit(actor, "wallet.delete", id);
      return { deleted: true as const };
    });
  }

  async walletHistory(id: string): Promise<Outcome<{ payouts: PayoutView[]; stakes: StakeView[] }>> {
    await this.ready();
    return outcome(async () => {
      this.#wallet(id);
      const payouts = this.db.select().from(schema.payouts).where(eq(schema.payouts.walletId, id)).orderBy(desc(schema.payouts.createdAt)).all();
      const stakes = this.db.select().from(schema.stakes).where(eq(schema.stakes.walletId, id)).orderBy(desc(schema.stakes.createdAt)).all();
      return { payouts: payouts.map(payoutView), stakes: stakes.map((s) => this.#stakeView(s)) };
    });
  }

  /** Every hot wallet's key, re-encrypted under a passphrase (the server key never leaves). */
  async exportBackup(passphrase: string, actor: string): Promise<Outcome<BackupEnvelope>> {
    await this.ready();
    return outcome(async () => {
      const master = parseWalletKey(this.#config.WALLET_ENCRYPTION_KEY);
      const rows = this.db.select().from(schema.wallets).where(isNull(schema.wallets.deletedAt)).all();
      const entries = rows.map((row) => ({
        id: row.id,
        kind: row.kind,
        label: row.label,
        address: row.address,
        owners: row.owners,
        threshold: row.threshold,
        privateKey: row.encryptedKey ? toHex(openKey(master, row.id, row.encryptedKey)) : null,
      }));
      this.#audit(actor, "wallet.backup.export", "wallets", { count: entries.length });
      return await sealBackup(passphrase, JSON.stringify({ wallets: entries }));
    });
  }

  async importBackup(envelope: BackupEnvelope, passphrase: string, actor: string): Promise<Outcome<{ restored: number; skipped: number }>> {
    await this.ready();
    return outcome(async () => {
      let plaintext: string;
      try {
        plaintext = await openBackup(passphrase, envelope);
      } catch {
        throw new LedgerError("bad-request", "The backup cannot be opened: wrong passphrase or altered backup.");
      }
      const { wallets } = JSON.parse(plaintext) as { wallets: (Omit<WalletRow, "encryptedKey" | "createdAt" | "updatedAt" | "deletedAt"> & { privateKey: string | null })[] };
      const master = parseWalletKey(this.#config.WALLET_ENCRYPTION_KEY);
      let restored = 0;
      let skipped = 0;
      this.ctx.storage.transactionSync(() => {
        for (const w of wallets) {
          const exists = this.db.select().from(schema.wallets).where(and(eq(schema.wallets.address, w.address), isNull(schema.wallets.deletedAt))).get();
          if (exists) {
            skipped++;
            continue;
          }
          const id = crypto.randomUUID();
          let encryptedKey: string | null = null;
          if (w.privateKey) {
            const key = fromHex(w.privateKey);
            if (addressFromPrivateKey(key) !== w.address) throw new LedgerError("bad-request", "The backup's key does not match its address.");
            encryptedKey = sealKey(master, id, key);
          }
          const now = Date.now();
          this.db.insert(schema.wallets).values({ id, kind: w.kind, label: w.label, address: w.address, encryptedKey, owners: w.owners, threshold: w.threshold, createdAt: now, updatedAt: now }).run();
          restored++;
        }
      });
      this.#audit(actor, "wallet.backup.import", "wallets", { restored, skipped });
      return { restored, skipped };
    });
  }

  #signer(walletId: string): { address: string; sign(tx: TronTransaction): TronTransaction } {
    const row = this.#wallet(walletId);
    if (row.kind !== "hot" || !row.encryptedKey) throw new LedgerError("conflict", `Wallet ${walletId} is watch-only (${row.kind}); it cannot sign.`);
    const sealed = row.encryptedKey;
    const master = parseWalletKey(this.#config.WALLET_ENCRYPTION_KEY);
    return {
      address: row.address,
      sign(tx) {
        const key = openKey(master, walletId, sealed);
        try {
          return signTransaction(tx, key);
        } finally {
          key.fill(0);
        }
      },
    };
  }

  // ── KYC ───────────────────────────────────────────────────────────────────────────────

  async setKyc(address: string, verified: boolean, actor: string): Promise<Outcome<{ address: string; verified: boolean; setBy: string; setAt: string }>> {
    await this.ready();
    return outcome(() => {
      requireAddress(address);
      const row = { address, verified, setBy: actor, setAt: Date.now() };
      this.db.insert(schema.kyc).values(row).onConflictDoUpdate({ target: schema.kyc.address, set: row }).run();
      this.#audit(actor, "kyc.set", address, { verified });
      return { ...row, setAt: iso(row.setAt)! };
    });
  }

  /** `detail` is the entry's JSON text (ids and flags only, never secrets). */
  async auditLog(limit = 100): Promise<{ at: string; actor: string; action: string; subject: string; detail: string }[]> {
    await this.ready();
    return this.db
      .select()
      .from(schema.audit)
      .orderBy(desc(schema.audit.id))
      .limit(limit)
      .all()
      .map((r) => ({ at: iso(r.at)!, actor: r.actor, action: r.action, subject: r.subject, detail: r.detail }));
  }

  #requireKyc(recipient: string, amount: bigint): void {
    const threshold = this.#config.KYC_REQUIRED_ABOVE;
    if (amount <= threshold) return;
    const flag = this.db.select().from(schema.kyc).where(eq(schema.kyc.address, recipient)).get();
    if (!flag?.verified) {
      throw new LedgerError("kyc-required", `Payouts above ${formatUnits(threshold)} USDT need the recipient's KYC flag.`, { threshold: formatUnits(threshold) });
    }
  }

  // ── payouts ───────────────────────────────────────────────────────────────────────────

  async requestPayout(input: { idempotencyKey: string; recipient: string; amount: string; source: "node" | "admin"; requestedBy: string }): Promise<Outcome<PayoutView>> {
    await this.ready();
    return outcome(() => {
      const config = this.#config;
      const recipient = requireAddress(input.recipient, "recipient");
      const amount = parseAmount(input.amount, payoutRange(config));
      const existing = this.db.select().from(schema.payouts).where(eq(schema.payouts.idempotencyKey, input.idempotencyKey)).get();
      if (existing) {
        if (existing.recipient !== recipient || existing.amount !== amount) {
          throw new LedgerError("idempotency-key-reused", "This idempotency key belongs to a different payout.");
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
        state: "requested" as const,
        createdAt: now,
        updatedAt: now,
      };
      this.ctx.storage.transactionSync(() => {
        this.db.insert(schema.payouts).values(row).run();
        this.#event(row.id, null, "requested", `by ${input.requestedBy}`);
      });
      return payoutView(this.#payout(row.id));
    });
  }

  #payout(id: string): PayoutRow {
    const row = this.db.select().from(schema.payouts).where(eq(schema.payouts.id, id)).get();
    if (!row) throw new LedgerError("not-found", `No payout ${id}.`);
    return row;
  }

  #event(payoutId: string, from: string | null, to: string, detail?: string): void {
    this.db.insert(schema.payoutEvents).values({ payoutId, fromState: from, toState: to, at: Date.now(), detail: detail ?? null }).run();
  }

  /** Moves a payout only if it is still in `from` (a compare-and-set on the state). */
  #transition(row: PayoutRow, to: schema.PayoutState, set: Partial<PayoutRow> = {}, detail?: string): void {
    this.ctx.storage.transactionSync(() => {
      const changed = this.db
        .update(schema.payouts)
        .set({ ...set, state: to, updatedAt: Date.now() })
        .where(and(eq(schema.payouts.id, row.id), eq(schema.payouts.state, row.state)))
        .returning({ id: schema.payouts.id })
        .all();
      if (changed.length !== 1) throw new Error(`payout ${row.id} left state ${row.state} concurrently`);
      this.#event(row.id, row.state, to, detail);
    });
  }

  async getPayout(id: string): Promise<Outcome<PayoutView & { events: { from: string | null; to: string; at: string; detail: string | null }[] }>> {
    await this.ready();
    return outcome(() => {
      const row = this.#payout(id);
      const events = this.db.select().from(schema.payoutEvents).where(eq(schema.payoutEvents.payoutId, id)).orderBy(asc(schema.payoutEvents.id)).all();
      return { ...payoutView(row), events: events.map((e) => ({ from: e.fromState, to: e.toState, at: iso(e.at)!, detail: e.detail })) };
    });
  }

  async listPayouts(filter: { state?: schema.PayoutState; recipient?: string; limit?: number } = {}): Promise<PayoutView[]> {
    await this.ready();
    const where = and(
      filter.state ? eq(schema.payouts.state, filter.state) : undefined,
      filter.recipient ? eq(schema.payouts.recipient, filter.recipient) : undefined,
    );
    return this.db.select().from(schema.payouts).where(where).orderBy(desc(schema.payouts.createdAt)).limit(filter.limit ?? 100).all().map(payoutView);
  }

  async approvePayout(id: string, actor: string, walletId?: string): Promise<Outcome<PayoutView>> {
    await this.ready();
    return outcome(async () => {
      const row = this.#payout(id);
      if (row.state !== "requested") throw new LedgerError("conflict", `Payout ${id} is ${row.state}, not requested.`);
      this.#requireKyc(row.recipient, row.amount);
      const wallet = walletId ? this.#wallet(walletId) : this.#defaultHotWallet();
      this.#signer(wallet.id); // refuses watch-only wallets
      const { usdt, trx } = await this.#balances(wallet.address, true);
      const current = this.#payout(id); // re-read: the balance call yielded
      if (current.state !== "requested") throw new LedgerError("conflict", `Payout ${id} is ${current.state}, not requested.`);
      const committed = this.db
        .select({ total: sql<number>`coalesce(sum(${schema.payouts.net}), 0)` })
        .from(schema.payouts)
        .where(and(eq(schema.payouts.walletId, wallet.id), inArray(schema.payouts.state, ["approved", "signed", "broadcast"])))
        .get();
      const available = usdt - BigInt(committed?.total ?? 0);
      if (available < current.net) {
        throw new LedgerError("insufficient-funds", `Wallet ${wallet.id} cannot cover ${formatUnits(current.net)} USDT.`, {
          available: formatUnits(available < 0n ? 0n : available),
          needed: formatUnits(current.net),
        });
      }
      // A TRC20 transfer burns TRX for energy unless the wallet has energy staked through us.
      const feeLimit = this.#config.TRON_FEE_LIMIT;
      const staked = this.db.select({ n: sql<number>`count(*)` }).from(schema.stakes)
        .where(and(eq(schema.stakes.walletId, wallet.id), eq(schema.stakes.resource, "ENERGY"), inArray(schema.stakes.state, ["frozen", "unfreezing"]))).get();
      if (!staked?.n && trx < feeLimit) {
        throw new LedgerError("insufficient-funds", `Wallet ${wallet.id} needs at least ${formatUnits(feeLimit)} TRX for energy.`, {
          available: formatUnits(trx),
          needed: formatUnits(feeLimit),
          asset: "TRX",
        });
      }
      this.#transition(current, "approved", { approvedBy: actor, walletId: wallet.id }, `by ${actor}`);
      this.#audit(actor, "payout.approve", id, { walletId: wallet.id, net: formatUnits(current.net) });
      await this.#scheduleBatch();
      return payoutView(this.#payout(id));
    });
  }

  async rejectPayout(id: string, actor: string, reason: string): Promise<Outcome<PayoutView>> {
    await this.ready();
    return outcome(() => {
      const row = this.#payout(id);
      if (row.state !== "requested" && row.state !== "approved") throw new LedgerError("conflict", `Payout ${id} is ${row.state}; only requested or approved payouts can be rejected.`);
      this.#transition(row, "failed", { failureReason: `rejected: ${reason}` }, `rejected by ${actor}`);
      this.#audit(actor, "payout.reject", id, { reason });
      return payoutView(this.#payout(id));
    });
  }

  #defaultHotWallet(): WalletRow {
    const row = this.db
      .select()
      .from(schema.wallets)
      .where(and(eq(schema.wallets.kind, "hot"), isNull(schema.wallets.deletedAt)))
      .orderBy(asc(schema.wallets.createdAt))
      .get();
    if (!row) throw new LedgerError("conflict", "No hot wallet exists to pay from.");
    return row;
  }

  /** Batching: a full batch runs now, otherwise at the latest after the batch interval. */
  async #scheduleBatch(): Promise<void> {
    const waiting = this.db.select({ n: sql<number>`count(*)` }).from(schema.payouts).where(eq(schema.payouts.state, "approved")).get();
    const config = this.#config;
    const at = (waiting?.n ?? 0) >= config.PAYOUT_BATCH_MAX ? Date.now() : Date.now() + config.PAYOUT_BATCH_INTERVAL_SECONDS * 1000;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    await this.ready();
    const summary = await this.processPayouts();
    if (summary.inFlight > 0) await this.ctx.storage.setAlarm(Date.now() + CONFIRM_POLL_MS);
    else if (summary.waiting > 0) await this.#scheduleBatch();
  }

  /** Test hook (LUCID_ENV=test only): the object aborts right after `point`, as a crash would. */
  async injectCrash(point: CrashPoint): Promise<void> {
    await this.ready();
    if (this.#config.LUCID_ENV !== "test") throw new Error("crash injection is for tests only");
    this.#crashAt = point;
  }

  #crashPoint(point: CrashPoint): void {
    if (this.#crashAt !== point) return;
    this.#crashAt = undefined;
    this.ctx.abort(`injected crash after ${point}`);
  }

  /**
   * One pass of the payout router: reconcile every in-flight payout against the chain, then
   * sign and broadcast one batch of approved payouts. Concurrent callers share the pass.
   */
  async processPayouts(): Promise<ProcessSummary> {
    await this.ready();
    this.#processing ??= this.#processOnce().finally(() => {
      this.#processing = undefined;
    });
    return this.#processing;
  }

  async #processOnce(): Promise<ProcessSummary> {
    const summary: ProcessSummary = { signed: 0, broadcast: 0, confirmed: 0, failed: 0, requeued: 0, inFlight: 0, waiting: 0 };
    try {
      const inFlight = this.db.select().from(schema.payouts).where(inArray(schema.payouts.state, ["signed", "broadcast"])).orderBy(asc(schema.payouts.createdAt)).all();
      for (const row of inFlight) await this.#reconcile(row, summary);
      await this.#reconcileStakes();

      const batch = this.db.select().from(schema.payouts).where(eq(schema.payouts.state, "approved")).orderBy(asc(schema.payouts.updatedAt)).limit(this.#config.PAYOUT_BATCH_MAX).all();
      if (batch.length > 0) await this.#signAndBroadcast(batch, summary);
    } catch (error) {
      if (!(error instanceof TronUnavailableError || error instanceof CircuitOpenError)) throw error;
      logEvent("warn", "payouts.tron_unavailable", { error: error.message });
    }
    const count = (states: schema.PayoutState[]) =>
      this.db.select({ n: sql<number>`count(*)` }).from(schema.payouts).where(inArray(schema.payouts.state, states)).get()?.n ?? 0;
    const stakesInFlight = this.db.select({ n: sql<number>`count(*)` }).from(schema.stakes).where(inArray(schema.stakes.state, ["freezing", "unfreezing", "withdrawing"])).get()?.n ?? 0;
    summary.inFlight = count(["signed", "broadcast"]) + stakesInFlight;
    summary.waiting = count(["approved"]);
    return summary;
  }

  async #signAndBroadcast(batch: PayoutRow[], summary: ProcessSummary): Promise<void> {
    const ref = await this.#tron.nowBlock();
    const feeLimit = this.#config.TRON_FEE_LIMIT;
    const batchId = crypto.randomUUID();
    const signed: { row: PayoutRow; tx: TronTransaction }[] = [];
    for (const row of batch) {
      const signer = this.#signer(row.walletId!);
      const spec: ContractSpec = { type: "TriggerSmartContract", owner: signer.address, contract: this.#usdt, data: transferData(row.recipient, row.net) };
      signed.push({ row, tx: signer.sign(buildTransaction(spec, ref, { feeLimit })) });
    }
    this.#crashPoint("signed-unsaved");
    // The signed transactions and their txids are durable before the first broadcast.
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const { row, tx } of signed) {
        this.#transition(row, "signed", {
          txJson: JSON.stringify(tx),
          txid: tx.txID,
          expiration: tx.raw_data.expiration,
          attempts: row.attempts + 1,
          firstSignedAt: row.firstSignedAt ?? now,
          batchId,
        }, `txid ${tx.txID}`);
      }
    });
    summary.signed += signed.length;
    this.#crashPoint("signed");
    for (const { row, tx } of signed) await this.#broadcast(this.#payout(row.id), tx, summary);
  }

  async #broadcast(row: PayoutRow, tx: TronTransaction, summary: ProcessSummary): Promise<void> {
    let result;
    try {
      result = await this.#tron.broadcast(tx);
    } catch (error) {
      if (!(error instanceof TronUnavailableError || error instanceof CircuitOpenError)) throw error;
      // Outcome unknown: the row stays `signed` and the same transaction is checked and re-sent later.
      this.#event(row.id, row.state, row.state, `broadcast outcome unknown: ${error.message}`);
      return;
    }
    this.#crashPoint("broadcast-sent");
    if (result.accepted) {
      this.#transition(row, "broadcast", {}, result.duplicate ? "node already had it" : "accepted");
      summary.broadcast++;
      this.#crashPoint("broadcast-recorded");
    } else if (result.code === "TAPOS_ERROR" || result.code === "TRANSACTION_EXPIRATION_ERROR") {
      // Stale reference: the tx can never be included; reconcile re-queues it once that is provable.
      this.#event(row.id, row.state, row.state, `broadcast refused: ${result.code}`);
    } else {
      this.#transition(row, "failed", { failureReason: `${result.code}: ${result.message}` }, "broadcast refused");
      summary.failed++;
    }
  }

  /** Checks a signed/broadcast payout's txid on the chain before anything else happens to it. */
  async #reconcile(row: PayoutRow, summary: ProcessSummary): Promise<void> {
    const txid = row.txid!;
    const solid = await this.#tron.transactionInfo(txid, true);
    if (solid) {
      if (solid.success) {
        this.#transition(row, "confirmed", { blockNumber: solid.blockNumber }, `solidified in block ${solid.blockNumber}`);
        summary.confirmed++;
        this.#crashPoint("confirmed");
      } else {
        this.#transition(row, "failed", { blockNumber: solid.blockNumber, failureReason: `on-chain result ${solid.result}` }, "failed on chain");
        summary.failed++;
      }
      return;
    }
    const included = await this.#tron.transactionInfo(txid);
    if (included) {
      if (row.state === "signed") this.#transition(row, "broadcast", { blockNumber: included.blockNumber }, `found in block ${included.blockNumber}`);
      return;
    }
    const solidHead = await this.#tron.nowBlock(true);
    if (solidHead.timestamp > row.expiration!) {
      // Every block that could hold it is solid and none does: the transaction is dead.
      const timeoutMs = this.#config.TRANSACTION_TIMEOUT_SECONDS * 1000;
      if (Date.now() - (row.firstSignedAt ?? row.createdAt) > timeoutMs) {
        this.#transition(row, "failed", { failureReason: `not included within ${this.#config.TRANSACTION_TIMEOUT_SECONDS} s` }, "timed out");
        summary.failed++;
      } else {
        this.#transition(row, "approved", {}, `txid ${txid} expired unincluded; will be signed anew`);
        summary.requeued++;
      }
      return;
    }
    if (row.state === "signed") await this.#broadcast(row, JSON.parse(row.txJson!) as TronTransaction, summary);
  }

  // ── USDT and network ──────────────────────────────────────────────────────────────────

  async usdtBalance(address: string): Promise<Outcome<{ address: string; contract: string; balance: string }>> {
    await this.ready();
    return outcome(async () => {
      requireAddress(address);
      const balance = await this.#chain(() => this.#tron.trc20Balance(this.#usdt, address));
      return { address, contract: this.#usdt, balance: formatUnits(balance) };
    });
  }

  async usdtAllowance(owner: string, spender: string): Promise<Outcome<{ owner: string; spender: string; contract: string; allowance: string }>> {
    await this.ready();
    return outcome(async () => {
      requireAddress(owner, "owner");
      requireAddress(spender, "spender");
      const allowance = await this.#chain(() => this.#tron.trc20Allowance(this.#usdt, owner, spender));
      return { owner, spender, contract: this.#usdt, allowance: formatUnits(allowance) };
    });
  }

  /** Where any transaction stands: pending, in a block (with confirmations), or solidified. */
  async transactionStatus(txid: string): Promise<Outcome<{ txid: string; status: "unknown" | "included" | "solidified"; success: boolean | null; blockNumber: number | null; confirmations: number }>> {
    await this.ready();
    return outcome(async () => {
      if (!/^[0-9a-f]{64}$/.test(txid)) throw new LedgerError("validation-failed", "txid must be 64 lower-case hex characters.");
      return this.#chain(async () => {
        const [info, solid, head] = await Promise.all([this.#tron.transactionInfo(txid), this.#tron.transactionInfo(txid, true), this.#tron.nowBlock()]);
        if (!info) return { txid, status: "unknown" as const, success: null, blockNumber: null, confirmations: 0 };
        return { txid, status: solid ? ("solidified" as const) : ("included" as const), success: info.success, blockNumber: info.blockNumber, confirmations: head.number - info.blockNumber + 1 };
      });
    });
  }

  async networkStatus(): Promise<Outcome<{ network: string; rpcUrl: string; block: number; solidBlock: number; latencyMs: number; breaker: string; usdtContract: string; usdtDecimals: number }>> {
    await this.ready();
    return outcome(async () => {
      const c = this.#config;
      const [head, solid, decimals] = await this.#chain(() =>
        Promise.all([this.#tron.nowBlock(), this.#tron.nowBlock(true), this.#tron.trc20Decimals(this.#usdt)]),
      );
      // Amounts assume 6 decimals; a contract that says otherwise (e.g. a wrong nile address) is refused.
      if (decimals !== 6n) throw new LedgerError("config-invalid", `USDT_CONTRACT_ADDRESS reports ${decimals} decimals, not 6.`);
      return {
        network: c.TRON_NETWORK,
        rpcUrl: c.TRON_RPC_URL || TRON_NETWORKS[c.TRON_NETWORK].rpcUrl,
        block: head.number,
        solidBlock: solid.number,
        latencyMs: head.latencyMs,
        breaker: this.#tron.breaker.state,
        usdtContract: this.#usdt,
        usdtDecimals: Number(decimals),
      };
    });
  }

  // ── staking (Stake 2.0) ───────────────────────────────────────────────────────────────

  #stakeView(row: StakeRow): StakeView {
    // Rewards accrue while frozen: from the freeze block to the unfreeze block (or now).
    const unfrozeAt = row.withdrawableAt !== null ? row.withdrawableAt - TRON_UNFREEZE_WAIT_MS : null;
    const end = unfrozeAt ?? (row.state === "frozen" || row.state === "unfreezing" ? Date.now() : null);
    const elapsed = row.frozenAt !== null && end !== null ? end - row.frozenAt : 0;
    return {
      id: row.id,
      walletId: row.walletId,
      amount: formatUnits(row.amount),
      resource: row.resource,
      state: row.state,
      txid: row.txid,
      rewardRate: (row.rewardRatePpm / 1_000_000).toString(),
      accruedReward: formatUnits(accruedReward(row.amount, row.rewardRatePpm, elapsed)),
      frozenAt: iso(row.frozenAt),
      unfreezeAfter: iso(row.unfreezeAfter),
      withdrawableAt: iso(row.withdrawableAt),
      failureReason: row.failureReason,
    };
  }

  #stake(id: string): StakeRow {
    const row = this.db.select().from(schema.stakes).where(eq(schema.stakes.id, id)).get();
    if (!row) throw new LedgerError("not-found", `No stake ${id}.`);
    return row;
  }

  async listStakes(): Promise<StakeView[]> {
    await this.ready();
    return this.db.select().from(schema.stakes).orderBy(desc(schema.stakes.createdAt)).all().map((s) => this.#stakeView(s));
  }

  async stake(input: { idempotencyKey: string; walletId: string; amount: string; resource: "ENERGY" | "BANDWIDTH"; actor: string }): Promise<Outcome<StakeView>> {
    await this.ready();
    return outcome(async () => {
      const existing = this.db.select().from(schema.stakes).where(eq(schema.stakes.idempotencyKey, input.idempotencyKey)).get();
      if (existing) return this.#stakeView(existing);
      const config = this.#config;
      const amount = parseAmount(input.amount, { min: config.MIN_STAKING_AMOUNT, max: BigInt(Number.MAX_SAFE_INTEGER) });
      const signer = this.#signer(input.walletId);
      const { trx } = await this.#balances(signer.address, true);
      if (trx < amount) throw new LedgerError("insufficient-funds", "The wallet's TRX balance does not cover the stake.", { available: formatUnits(trx), needed: formatUnits(amount) });
      const now = Date.now();
      const row: StakeRow = {
        id: crypto.randomUUID(),
        idempotencyKey: input.idempotencyKey,
        walletId: input.walletId,
        amount,
        resource: input.resource,
        state: "freezing",
        rewardRatePpm: ratePpm(config.STAKING_REWARD_RATE),
        txJson: null,
        txid: null,
        expiration: null,
        frozenAt: null,
        unfreezeAfter: null,
        withdrawableAt: null,
        failureReason: null,
        createdAt: now,
        updatedAt: now,
      };
      const tx = await this.#signStakeTx(signer, { type: "FreezeBalanceV2Contract", owner: signer.address, amount, resource: input.resource });
      this.db.insert(schema.stakes).values({ ...row, txJson: JSON.stringify(tx), txid: tx.txID, expiration: tx.raw_data.expiration }).run();
      this.#audit(input.actor, "stake.freeze", row.id, { amount: formatUnits(amount), resource: input.resource });
      await this.#sendStake(row.id, tx);
      return this.#stakeView(this.#stake(row.id));
    });
  }

  async unstake(id: string, actor: string): Promise<Outcome<StakeView>> {
    await this.ready();
    return outcome(() => this.#stakeStep(id, actor, "frozen", "unfreezing"));
  }

  async withdrawStake(id: string, actor: string): Promise<Outcome<StakeView>> {
    await this.ready();
    return outcome(() => this.#stakeStep(id, actor, "unfrozen", "withdrawing"));
  }

  async #stakeStep(id: string, actor: string, from: "frozen" | "unfrozen", to: "unfreezing" | "withdrawing"): Promise<StakeView> {
    const row = this.#stake(id);
    if (row.state !== from) throw new LedgerError("conflict", `Stake ${id} is ${row.state}, not ${from}.`);
    const signer = this.#signer(row.walletId);
    // Lock periods run on chain time, the clock TRON itself enforces its 14 days with.
    const head = await this.#chain(() => this.#tron.nowBlock());
    const notBefore = from === "frozen" ? row.unfreezeAfter! : row.withdrawableAt!;
    if (head.timestamp < notBefore) {
      throw new LedgerError("conflict", `Stake ${id} is locked until ${iso(notBefore)}.`, { lockedUntil: iso(notBefore)! });
    }
    const spec: ContractSpec =
      to === "unfreezing"
        ? { type: "UnfreezeBalanceV2Contract", owner: signer.address, amount: row.amount, resource: row.resource }
        : { type: "WithdrawExpireUnfreezeContract", owner: signer.address };
    const tx = await this.#signStakeTx(signer, spec);
    const current = this.#stake(id);
    if (current.state !== from) throw new LedgerError("conflict", `Stake ${id} changed while signing.`);
    this.db.update(schema.stakes).set({ state: to, txJson: JSON.stringify(tx), txid: tx.txID, expiration: tx.raw_data.expiration, updatedAt: Date.now() }).where(eq(schema.stakes.id, id)).run();
    this.#audit(actor, to === "unfreezing" ? "stake.unfreeze" : "stake.withdraw", id);
    await this.#sendStake(id, tx);
    return this.#stakeView(this.#stake(id));
  }

  async #signStakeTx(signer: { sign(tx: TronTransaction): TronTransaction }, spec: ContractSpec): Promise<TronTransaction> {
    const ref = await this.#chain(() => this.#tron.nowBlock());
    return signer.sign(buildTransaction(spec, ref));
  }

  async #sendStake(id: string, tx: TronTransaction): Promise<void> {
    try {
      const result = await this.#tron.broadcast(tx);
      if (!result.accepted && result.code !== "TAPOS_ERROR" && result.code !== "TRANSACTION_EXPIRATION_ERROR") {
        this.#settleStake(this.#stake(id), false, `${result.code}: ${result.message}`);
      }
    } catch (error) {
      if (!(error instanceof TronUnavailableError || error instanceof CircuitOpenError)) throw error;
      // Unknown outcome: the stored transaction is checked and re-sent by the router.
    }
    await this.#scheduleBatch();
  }

  /** The stake's pending step either happened (move on) or provably did not (step back). */
  #settleStake(row: StakeRow, success: boolean, reason: string | null, blockTimeStamp = 0): void {
    const config = this.#config;
    const next: Partial<StakeRow> = { updatedAt: Date.now(), failureReason: success ? null : reason };
    if (row.state === "freezing") {
      Object.assign(next, success
        ? { state: "frozen", frozenAt: blockTimeStamp, unfreezeAfter: blockTimeStamp + config.STAKING_DURATION_DAYS * 24 * 3600 * 1000 }
        : { state: "failed" });
    } else if (row.state === "unfreezing") {
      Object.assign(next, success ? { state: "unfrozen", withdrawableAt: blockTimeStamp + TRON_UNFREEZE_WAIT_MS } : { state: "frozen" });
    } else if (row.state === "withdrawing") {
      Object.assign(next, success ? { state: "withdrawn" } : { state: "unfrozen" });
    } else return;
    this.db.update(schema.stakes).set(next).where(and(eq(schema.stakes.id, row.id), eq(schema.stakes.state, row.state))).run();
  }

  async #reconcileStakes(): Promise<void> {
    const rows = this.db.select().from(schema.stakes).where(inArray(schema.stakes.state, ["freezing", "unfreezing", "withdrawing"])).all();
    for (const row of rows) {
      const solid = await this.#tron.transactionInfo(row.txid!, true);
      if (solid) {
        this.#settleStake(row, solid.success, solid.success ? null : `on-chain result ${solid.result}`, solid.blockTimeStamp);
        continue;
      }
      if (await this.#tron.transactionInfo(row.txid!)) continue;
      const solidHead = await this.#tron.nowBlock(true);
      if (solidHead.timestamp > row.expiration!) this.#settleStake(row, false, `txid ${row.txid} expired unincluded`);
      else await this.#tron.broadcast(JSON.parse(row.txJson!) as TronTransaction).catch(() => undefined);
    }
  }

  // ── idempotency for the gateway ───────────────────────────────────────────────────────

  /** Claims an Idempotency-Key, or returns the stored answer of the request that used it. */
  async idempotencyBegin(key: string, requestHash: string): Promise<IdempotencyClaim> {
    await this.ready();
    const row = this.db.select().from(schema.idempotency).where(eq(schema.idempotency.key, key)).get();
    if (!row) {
      this.db.insert(schema.idempotency).values({ key, requestHash, createdAt: Date.now() }).run();
      return { state: "new" };
    }
    if (row.requestHash !== requestHash) return { state: "mismatch" };
    if (row.status === null || row.body === null) {
      // A claim whose request never finished (the object crashed or was evicted) is taken over
      // after IDEMPOTENCY_ABANDONED_MS; the operations behind it are idempotent by key themselves.
      if (Date.now() - row.createdAt < IDEMPOTENCY_ABANDONED_MS) return { state: "in-progress" };
      this.db.update(schema.idempotency).set({ createdAt: Date.now() }).where(eq(schema.idempotency.key, key)).run();
      return { state: "new" };
    }
    return { state: "replay", status: row.status, body: row.body };
  }

  /** Stores the answer (2xx/4xx), or releases the key after a 5xx so the client can retry. */
  async idempotencyFinish(key: string, status: number, body: string): Promise<void> {
    await this.ready();
    if (status >= 500) this.db.delete(schema.idempotency).where(eq(schema.idempotency.key, key)).run();
    else this.db.update(schema.idempotency).set({ status, body }).where(eq(schema.idempotency.key, key)).run();
  }
}

export interface IdempotencyClaim {
  state: "new" | "replay" | "in-progress" | "mismatch";
  /** For "replay": the stored answer. */
  status?: number;
  body?: string;
}

export interface ProcessSummary {
  signed: number;
  broadcast: number;
  confirmed: number;
  failed: number;
  requeued: number;
  inFlight: number;
  waiting: number;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new LedgerError("bad-request", "malformed hex in backup");
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}
