import { and, asc, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { loadConfig, type Config } from "../../shared/config.ts";
import type { AlertInput } from "../../shared/admin.ts";
import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import { formatUnits } from "../../shared/money.ts";
import type { PayoutReceipt, PayoutRequest } from "../../shared/nodes/payout.ts";
import { addressFromPrivateKey, createAccount } from "../../shared/tron/address.ts";
import { CircuitBreaker, CircuitOpenError } from "../../shared/tron/breaker.ts";
import { TronClient, TronRejectedError, TronUnavailableError } from "../../shared/tron/client.ts";
import { TRON_NETWORKS } from "../../shared/tron/networks.ts";
import { signTransaction, type TronTransaction } from "../../shared/tron/transaction.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import { openBackup, openKey, parseWalletKey, sealBackup, sealKey, type BackupEnvelope } from "./keys.ts";
import { RefusalError, outcome, type Outcome } from "../../shared/outcome.ts";
import { revertDuplicateTxids } from "./repair.ts";
import { requireAddress } from "./rules.ts";
import type { LedgerDeps } from "./deps.ts";
import { PayoutRouter } from "./payout-router.ts";
import * as schema from "./schema.ts";
import { TronAnchors, type TronAnchorView } from "./tron-anchors.ts";
import { Reconciler, type ReconciliationStatus, type ReconciliationView } from "./reconcile.ts";
import { Staking } from "./staking.ts";
import {
  CONFIRM_POLL_MS,
  IDEMPOTENCY_ABANDONED_MS,
  iso,
  payoutView,
  stakeView,
  walletView,
  type CrashPoint,
  type IdempotencyClaim,
  type PayoutView,
  type ProcessSummary,
  type StakeView,
  type WalletKind,
  type WalletRow,
  type WalletView,
} from "./views.ts";
import { wakeBy } from "../scheduler.ts";
import { singleton } from "../../platform/objects.ts";

/** After a reconciliation that could not read the chain, the next attempt waits this long. */
const RECONCILE_RETRY_MS = 60_000;

export { CRASH_POINTS, type CrashPoint, type PayoutView, type StakeView, type WalletKind, type WalletView } from "./views.ts";

/**
 * The ledger: wallets (hot keys sealed with WALLET_ENCRYPTION_KEY, which is read nowhere else),
 * KYC flags, payouts, stakes and idempotency records. One instance ("ledger") is the single
 * writer of all of it, so payout state changes are serialised and a payout is paid at most once.
 */
export class LedgerDO extends SqlDurableObject<typeof schema, Env> {
  #client: TronClient | undefined;
  #rpcOverride: string | undefined;
  #processing: Promise<ProcessSummary> | undefined;
  #crashAt: CrashPoint | undefined;
  #memoless = false;

  readonly #router: PayoutRouter;
  readonly #staking: Staking;
  readonly #tronAnchors: TronAnchors;
  readonly #reconciler: Reconciler;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
    const deps: LedgerDeps = {
      db: this.db,
      ctx,
      config: () => this.#config,
      tron: () => this.#tron,
      signer: (walletId) => this.#signer(walletId),
      wallet: (id) => this.#wallet(id),
      balances: (address, refresh) => this.#balances(address, refresh),
      audit: (actor, action, subject, detail) => this.#audit(actor, action, subject, detail),
      chain: (call) => this.#chain(call),
      crashPoint: (point) => this.#crashPoint(point),
      memoless: () => {
        const once = this.#memoless;
        this.#memoless = false;
        return once;
      },
      alert: (input) => this.#alert(input),
      resolveAlert: (key) => this.#resolveAlert(key),
      scheduleBatch: () => this.#router.scheduleBatch(),
      reconcileStakes: () => this.#staking.reconcile(),
    };
    this.#router = new PayoutRouter(deps);
    this.#staking = new Staking(deps);
    this.#tronAnchors = new TronAnchors(deps);
    this.#reconciler = new Reconciler(deps);
  }

  get #config(): Config {
    return loadConfig(this.env);
  }

  get #tron(): TronClient {
    if (!this.#client) {
      const c = this.#config;
      this.#client = new TronClient({
        rpcUrl: this.#rpcOverride ?? (c.TRON_RPC_URL || TRON_NETWORKS[c.TRON_NETWORK].rpcUrl),
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
        throw new RefusalError("service-unavailable", `The TRON node is unavailable: ${error.message}`);
      }
      if (error instanceof TronRejectedError) throw new RefusalError("conflict", `The TRON node refused: ${error.message}`);
      throw error;
    }
  }

  #audit(actor: string, action: string, subject: string, detail: Record<string, unknown> = {}): void {
    this.db
      .insert(schema.audit)
      .values({ at: Date.now(), actor, action, subject, detail: JSON.stringify(detail) })
      .run();
  }

  // ── wallets ────────────────────────────────────────────────────────────────────────────

  protected override beforeMigrate(): void {
    revertDuplicateTxids(this.ctx.storage.sql);
  }

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
        if (input.address !== undefined)
          throw new RefusalError("validation-failed", "A hot wallet's address comes from its key; do not send one.");
        let key: Uint8Array;
        if (input.privateKey !== undefined) {
          if (!/^[0-9a-fA-F]{64}$/.test(input.privateKey))
            throw new RefusalError("validation-failed", "privateKey must be 64 hex characters.");
          key = Uint8Array.from(input.privateKey.match(/../g)!.map((h) => parseInt(h, 16)));
          try {
            address = addressFromPrivateKey(key);
          } catch {
            throw new RefusalError("validation-failed", "privateKey is not a valid secp256k1 key.");
          }
        } else {
          ({ privateKey: key, address } = createAccount());
        }
        encryptedKey = sealKey(parseWalletKey(this.#config.WALLET_ENCRYPTION_KEY), id, key);
        key.fill(0);
      } else {
        if (input.privateKey !== undefined)
          throw new RefusalError("validation-failed", `A ${input.kind} wallet is watch-only: it never holds a key.`);
        address = requireAddress(input.address);
      }
      if (input.kind === "multisig") {
        const owners = (input.owners ?? []).map((o) => requireAddress(o, "owner"));
        if (owners.length < 2 || new Set(owners).size !== owners.length)
          throw new RefusalError("validation-failed", "A multisig wallet needs at least two distinct owners.");
        const threshold = input.threshold ?? 0;
        if (!Number.isInteger(threshold) || threshold < 1 || threshold > owners.length) {
          throw new RefusalError("validation-failed", "threshold must be between 1 and the number of owners.");
        }
        input = { ...input, owners, threshold };
      } else if (input.owners !== undefined || input.threshold !== undefined) {
        throw new RefusalError("validation-failed", "owners and threshold apply to multisig wallets only.");
      }
      const active = this.db
        .select()
        .from(schema.wallets)
        .where(and(eq(schema.wallets.address, address), isNull(schema.wallets.deletedAt)))
        .get();
      if (active) throw new RefusalError("conflict", `A wallet for ${address} already exists (${active.id}).`);
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
    }).then(async (result) => {
      if (result.ok && result.value.kind === "hot") await this.#scheduleReconciliation();
      return result;
    });
  }

  async listWallets(): Promise<WalletView[]> {
    await this.ready();
    return this.db
      .select()
      .from(schema.wallets)
      .where(isNull(schema.wallets.deletedAt))
      .orderBy(asc(schema.wallets.createdAt))
      .all()
      .map(walletView);
  }

  #wallet(id: string): WalletRow {
    const row = this.db
      .select()
      .from(schema.wallets)
      .where(and(eq(schema.wallets.id, id), isNull(schema.wallets.deletedAt)))
      .get();
    if (!row) throw new RefusalError("not-found", `No wallet ${id}.`);
    return row;
  }

  async getWallet(
    id: string,
    refresh = false,
  ): Promise<Outcome<WalletView & { balances: { trx: string; usdt: string; fetchedAt: string } }>> {
    await this.ready();
    return outcome(async () => {
      const row = this.#wallet(id);
      const balances = await this.#balances(row.address, refresh);
      return {
        ...walletView(row),
        balances: { trx: formatUnits(balances.trx), usdt: formatUnits(balances.usdt), fetchedAt: iso(balances.fetchedAt)! },
      };
    });
  }

  /** TRX and USDT balances, from the cache when younger than BALANCE_CACHE_TTL_SECONDS. */
  async #balances(address: string, refresh: boolean): Promise<{ trx: bigint; usdt: bigint; fetchedAt: number }> {
    const cached = this.db.select().from(schema.balanceCache).where(eq(schema.balanceCache.address, address)).get();
    const ttl = this.#config.BALANCE_CACHE_TTL_SECONDS * 1000;
    if (cached && !refresh && Date.now() - cached.fetchedAt < ttl) return cached;
    const [account, usdt] = await this.#chain(() =>
      Promise.all([this.#tron.account(address), this.#tron.trc20Balance(this.#usdt, address)]),
    );
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
      if (busy && busy.n > 0) throw new RefusalError("conflict", `Wallet ${id} has ${busy.n} payouts in flight.`);
      // Soft delete: the sealed key is wiped, the row stays for history.
      this.db
        .update(schema.wallets)
        .set({ deletedAt: Date.now(), encryptedKey: null, updatedAt: Date.now() })
        .where(eq(schema.wallets.id, id))
        .run();
      this.#audit(actor, "wallet.delete", id);
      return { deleted: true as const };
    });
  }

  async walletHistory(id: string): Promise<Outcome<{ payouts: PayoutView[]; stakes: StakeView[] }>> {
    await this.ready();
    return outcome(async () => {
      this.#wallet(id);
      const payouts = this.db
        .select()
        .from(schema.payouts)
        .where(eq(schema.payouts.walletId, id))
        .orderBy(desc(schema.payouts.createdAt))
        .all();
      const stakes = this.db
        .select()
        .from(schema.stakes)
        .where(eq(schema.stakes.walletId, id))
        .orderBy(desc(schema.stakes.createdAt))
        .all();
      return { payouts: payouts.map(payoutView), stakes: stakes.map(stakeView) };
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
        throw new RefusalError("bad-request", "The backup cannot be opened: wrong passphrase or altered backup.");
      }
      const { wallets } = JSON.parse(plaintext) as {
        wallets: (Omit<WalletRow, "encryptedKey" | "createdAt" | "updatedAt" | "deletedAt"> & { privateKey: string | null })[];
      };
      const master = parseWalletKey(this.#config.WALLET_ENCRYPTION_KEY);
      let restored = 0;
      let skipped = 0;
      this.ctx.storage.transactionSync(() => {
        for (const w of wallets) {
          const exists = this.db
            .select()
            .from(schema.wallets)
            .where(and(eq(schema.wallets.address, w.address), isNull(schema.wallets.deletedAt)))
            .get();
          if (exists) {
            skipped++;
            continue;
          }
          const id = crypto.randomUUID();
          let encryptedKey: string | null = null;
          if (w.privateKey) {
            const key = fromHex(w.privateKey);
            if (addressFromPrivateKey(key) !== w.address)
              throw new RefusalError("bad-request", "The backup's key does not match its address.");
            encryptedKey = sealKey(master, id, key);
          }
          const now = Date.now();
          this.db
            .insert(schema.wallets)
            .values({
              id,
              kind: w.kind,
              label: w.label,
              address: w.address,
              encryptedKey,
              owners: w.owners,
              threshold: w.threshold,
              createdAt: now,
              updatedAt: now,
            })
            .run();
          restored++;
        }
      });
      this.#audit(actor, "wallet.backup.import", "wallets", { restored, skipped });
      return { restored, skipped };
    });
  }

  #signer(walletId: string): { address: string; sign(tx: TronTransaction): TronTransaction } {
    const row = this.#wallet(walletId);
    if (row.kind !== "hot" || !row.encryptedKey)
      throw new RefusalError("conflict", `Wallet ${walletId} is watch-only (${row.kind}); it cannot sign.`);
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

  async setKyc(
    address: string,
    verified: boolean,
    actor: string,
  ): Promise<Outcome<{ address: string; verified: boolean; setBy: string; setAt: string }>> {
    await this.ready();
    return outcome(() => {
      requireAddress(address);
      const row = { address, verified, setBy: actor, setAt: Date.now() };
      this.db.insert(schema.kyc).values(row).onConflictDoUpdate({ target: schema.kyc.address, set: row }).run();
      this.#audit(actor, "kyc.set", address, { verified });
      return { ...row, setAt: iso(row.setAt)! };
    });
  }

  /** A recipient's KYC flag as set by an admin, or null when never set. */
  async kycFlag(address: string): Promise<{ address: string; verified: boolean; setBy: string; setAt: string } | null> {
    await this.ready();
    const row = this.db.select().from(schema.kyc).where(eq(schema.kyc.address, address)).get();
    return row ? { ...row, setAt: iso(row.setAt)! } : null;
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

  // ── payouts (payout-router.ts) ──────────────────────────────────────────────────────────

  async requestPayout(input: Parameters<PayoutRouter["requestPayout"]>[0]) {
    await this.ready();
    return this.#router.requestPayout(input);
  }

  /**
   * The contract node pools deliver to (shared/nodes/payout.ts): idempotent on the request's key;
   * `rejected` for a final refusal (the pool re-accrues the amount); throws only when something
   * transient failed, so the pool's outbox retries.
   */
  async requestNodePayout(request: PayoutRequest): Promise<PayoutReceipt> {
    await this.ready();
    const known = this.db
      .select({ id: schema.payouts.id })
      .from(schema.payouts)
      .where(eq(schema.payouts.idempotencyKey, request.idempotencyKey))
      .get();
    let units: bigint;
    try {
      units = BigInt(request.amountUnits);
    } catch {
      return { status: "rejected", reason: `amountUnits "${request.amountUnits}" is not an integer` };
    }
    const result = await this.#router.requestPayout({
      idempotencyKey: request.idempotencyKey,
      recipient: request.payoutAddress,
      amount: formatUnits(units),
      source: "node",
      requestedBy: `node:${request.nodeId}`,
      nodeId: request.nodeId,
      automatic: request.automatic === true,
    });
    if (!result.ok) return { status: "rejected", reason: `${result.problem.slug}: ${result.problem.detail}` };
    // "Automatic" means automatic: inside the policy limits no admin is needed (held beyond them).
    if (!known) await this.#router.autoApprove(result.value.id);
    return { status: known ? "duplicate" : "accepted", payoutId: result.value.id };
  }

  async getPayout(id: string) {
    await this.ready();
    return this.#router.getPayout(id);
  }

  async listPayouts(filter: Parameters<PayoutRouter["listPayouts"]>[0] = {}) {
    await this.ready();
    return this.#router.listPayouts(filter);
  }

  async approvePayout(id: string, actor: string, walletId?: string) {
    await this.ready();
    return this.#router.approvePayout(id, actor, walletId);
  }

  async rejectPayout(id: string, actor: string, reason: string) {
    await this.ready();
    return this.#router.rejectPayout(id, actor, reason);
  }

  /**
   * One pass of the payout router: reconcile every in-flight payout and stake against the chain,
   * then sign and broadcast one batch of approved payouts. Concurrent callers share the pass.
   */
  async processPayouts(): Promise<ProcessSummary> {
    await this.ready();
    this.#processing ??= this.#router.processOnce().finally(() => {
      this.#processing = undefined;
    });
    return this.#processing;
  }

  override async alarm(): Promise<void> {
    await this.ready();
    const summary = await this.processPayouts();
    const due = this.#reconciler.nextDue();
    let retryAt: number | undefined;
    if (due !== null && due <= Date.now()) {
      const run = await this.reconcileNow();
      if (!run.ok) {
        // Not recorded, so still due: try again in a minute rather than at once.
        logEvent("warn", "ledger.reconcile_failed", { reason: run.problem.detail });
        retryAt = Date.now() + RECONCILE_RETRY_MS;
      }
    }
    if (summary.inFlight > 0) await this.ctx.storage.setAlarm(Date.now() + CONFIRM_POLL_MS);
    else if (summary.waiting > 0) await this.#router.scheduleBatch();
    await this.#scheduleReconciliation(retryAt);
  }

  /**
   * Compares every hot wallet's confirmed on-chain USDT transfers with the ledger now (reconcile.ts);
   * differences are stored and raised as an admin alert. The alarm runs it every
   * PAYOUT_RECONCILE_INTERVAL_SECONDS; an unreachable TRON node is a 503 here and a retry there.
   */
  async reconcileNow(): Promise<Outcome<ReconciliationView[]>> {
    await this.ready();
    return outcome(() => this.#chain(() => this.#reconciler.run()));
  }

  /** Every hot wallet's latest reconciliation and when the next run is due (null: no hot wallet). */
  async reconciliationStatus(): Promise<{ wallets: ReconciliationStatus[]; nextDueAt: string | null }> {
    await this.ready();
    const due = this.#reconciler.nextDue();
    return { wallets: this.#reconciler.status(), nextDueAt: due === null ? null : new Date(due).toISOString() };
  }

  /** The alarm also serves the reconciliation: brought forward to its due time, never pushed back. */
  async #scheduleReconciliation(retryAt?: number): Promise<void> {
    const due = retryAt ?? this.#reconciler.nextDue();
    if (due === null) return;
    await wakeBy(this.ctx.storage, due, { notBefore: Date.now() });
  }

  /**
   * The TRON client's health: the breaker's state and, unless it is open, one getnowblock
   * bounded by `timeoutMs` (no retries). Never throws: an unreachable node is `reachable: false`.
   */
  async tronHealth(timeoutMs: number): Promise<{
    breaker: "closed" | "open" | "half-open";
    reachable: boolean;
    block: number | null;
    latencyMs: number | null;
    error: string | null;
  }> {
    await this.ready();
    const client = this.#tron;
    if (client.breaker.state === "open")
      return { breaker: "open", reachable: false, block: null, latencyMs: null, error: "circuit breaker open after repeated failures" };
    try {
      const { block, latencyMs } = await client.probe(timeoutMs);
      return { breaker: client.breaker.state, reachable: true, block, latencyMs, error: null };
    } catch (error) {
      return {
        breaker: client.breaker.state,
        reachable: false,
        block: null,
        latencyMs: null,
        error: error instanceof Error ? error.message : String(error),
      };
    }
  }

  /**
   * Test hook (LUCID_ENV=test only): the TRON client talks to `url` instead (null: back to the
   * configured node), with a fresh breaker. Test files share one TRON double, so a test cannot stop
   * it; pointing one ledger at a port nobody listens on is that ledger's TRON outage.
   */
  async injectTronEndpoint(url: string | null): Promise<void> {
    await this.ready();
    if (this.#config.LUCID_ENV !== "test") throw new Error("TRON endpoint injection is for tests only");
    this.#rpcOverride = url ?? undefined;
    this.#client = undefined;
  }

  /** Test hook (LUCID_ENV=test only): the object aborts right after `point`, as a crash would. */
  async injectCrash(point: CrashPoint): Promise<void> {
    await this.ready();
    if (this.#config.LUCID_ENV !== "test") throw new Error("crash injection is for tests only");
    this.#crashAt = point;
  }

  /**
   * Test hook (LUCID_ENV=test only): the next batch is signed without memos, as before payouts
   * carried their id, so equal payouts build the same transaction and the duplicate check is seen.
   */
  async injectMemolessBatch(): Promise<void> {
    await this.ready();
    if (this.#config.LUCID_ENV !== "test") throw new Error("memoless batches are for tests only");
    this.#memoless = true;
  }

  async #alert(input: AlertInput): Promise<void> {
    try {
      await singleton(this.env, "ADMIN").raiseAlert(input);
    } catch (error) {
      logEvent("error", "ledger.alert_failed", { key: input.key, error: error instanceof Error ? error.message : String(error) });
    }
  }

  async #resolveAlert(key: string): Promise<void> {
    try {
      await singleton(this.env, "ADMIN").resolveAlert(key);
    } catch (error) {
      logEvent("error", "ledger.alert_resolve_failed", { key, error: error instanceof Error ? error.message : String(error) });
    }
  }

  #crashPoint(point: CrashPoint): void {
    if (this.#crashAt !== point) return;
    this.#crashAt = undefined;
    this.ctx.abort(`injected crash after ${point}`);
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

  async usdtAllowance(
    owner: string,
    spender: string,
  ): Promise<Outcome<{ owner: string; spender: string; contract: string; allowance: string }>> {
    await this.ready();
    return outcome(async () => {
      requireAddress(owner, "owner");
      requireAddress(spender, "spender");
      const allowance = await this.#chain(() => this.#tron.trc20Allowance(this.#usdt, owner, spender));
      return { owner, spender, contract: this.#usdt, allowance: formatUnits(allowance) };
    });
  }

  /** Where any transaction stands: pending, in a block (with confirmations), or solidified. */
  async transactionStatus(txid: string): Promise<
    Outcome<{
      txid: string;
      status: "unknown" | "included" | "solidified";
      success: boolean | null;
      blockNumber: number | null;
      confirmations: number;
    }>
  > {
    await this.ready();
    return outcome(async () => {
      if (!/^[0-9a-f]{64}$/.test(txid)) throw new RefusalError("validation-failed", "txid must be 64 lower-case hex characters.");
      return this.#chain(async () => {
        const [info, solid, head] = await Promise.all([
          this.#tron.transactionInfo(txid),
          this.#tron.transactionInfo(txid, true),
          this.#tron.nowBlock(),
        ]);
        if (!info) return { txid, status: "unknown" as const, success: null, blockNumber: null, confirmations: 0 };
        return {
          txid,
          status: solid ? ("solidified" as const) : ("included" as const),
          success: info.success,
          blockNumber: info.blockNumber,
          confirmations: head.number - info.blockNumber + 1,
        };
      });
    });
  }

  /**
   * Writes `memo` (hex) on TRON under `key`, or moves the existing anchor forward (broadcast,
   * included, solidified). For other functions: the chain anchors its head hash each epoch.
   */
  async anchorOnTron(key: string, memo: string): Promise<Outcome<TronAnchorView>> {
    await this.ready();
    return outcome(() => this.#tronAnchors.anchor(key, memo));
  }

  async networkStatus(): Promise<
    Outcome<{
      network: string;
      rpcUrl: string;
      block: number;
      solidBlock: number;
      latencyMs: number;
      breaker: string;
      usdtContract: string;
      usdtDecimals: number;
    }>
  > {
    await this.ready();
    return outcome(async () => {
      const c = this.#config;
      const [head, solid, decimals] = await this.#chain(() =>
        Promise.all([this.#tron.nowBlock(), this.#tron.nowBlock(true), this.#tron.trc20Decimals(this.#usdt)]),
      );
      // Amounts assume 6 decimals; a contract that says otherwise (e.g. a wrong nile address) is refused.
      if (decimals !== 6n) throw new RefusalError("config-invalid", `USDT_CONTRACT_ADDRESS reports ${decimals} decimals, not 6.`);
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

  // ── staking (staking.ts) ────────────────────────────────────────────────────────────────

  async listStakes() {
    await this.ready();
    return this.#staking.listStakes();
  }

  async stake(input: Parameters<Staking["stake"]>[0]) {
    await this.ready();
    return this.#staking.stake(input);
  }

  async unstake(id: string, actor: string) {
    await this.ready();
    return this.#staking.unstake(id, actor);
  }

  async withdrawStake(id: string, actor: string) {
    await this.ready();
    return this.#staking.withdrawStake(id, actor);
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

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new RefusalError("bad-request", "malformed hex in backup");
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}
