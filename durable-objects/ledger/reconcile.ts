import { and, asc, desc, eq, isNotNull, isNull } from "drizzle-orm";
import { formatUnits } from "../../shared/money.ts";
import type { Trc20Transfer } from "../../shared/tron/client.ts";
import type { LedgerDeps } from "./deps.ts";
import * as schema from "./schema.ts";
import type { PayoutRow, WalletRow } from "./views.ts";

export interface ReconciliationView {
  walletId: string;
  address: string;
  at: string;
  transfers: number;
  payouts: number;
  differences: string[];
}

/** A hot wallet's latest reconciliation (null: not run yet) and when the next one is due. */
export interface ReconciliationStatus {
  walletId: string;
  address: string;
  label: string;
  last: ReconciliationView | null;
}

/** Pages of 200 transfers read per wallet and run; beyond that the "missing transfer" check is skipped. */
const MAX_PAGES = 10;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Compares each hot wallet's confirmed USDT transfers on chain (TronGrid's account history) with
 * the ledger's payouts from it. Any difference (money left without a payout, a payout whose
 * transfer went elsewhere or moved another amount, a confirmed payout with no transfer, a
 * transfer for a payout the ledger does not count as sent) is recorded and raised as a critical
 * admin alert. Run by LedgerDO's alarm every PAYOUT_RECONCILE_INTERVAL_SECONDS.
 */
export class Reconciler {
  readonly #d: LedgerDeps;

  constructor(deps: LedgerDeps) {
    this.#d = deps;
  }

  /** When the next run is due (ms), or null when there is no hot wallet to watch. */
  nextDue(): number | null {
    const hot = this.#d.db
      .select({ createdAt: schema.wallets.createdAt })
      .from(schema.wallets)
      .where(and(eq(schema.wallets.kind, "hot"), isNull(schema.wallets.deletedAt)))
      .orderBy(asc(schema.wallets.createdAt))
      .limit(1)
      .get();
    if (!hot) return null;
    const last = this.#d.db
      .select({ at: schema.reconciliations.at })
      .from(schema.reconciliations)
      .orderBy(desc(schema.reconciliations.id))
      .limit(1)
      .get();
    return (last?.at ?? hot.createdAt) + this.#d.config().PAYOUT_RECONCILE_INTERVAL_SECONDS * 1000;
  }

  /** Every hot wallet's latest run, oldest wallet first. */
  status(): ReconciliationStatus[] {
    const wallets = this.#d.db
      .select()
      .from(schema.wallets)
      .where(and(eq(schema.wallets.kind, "hot"), isNull(schema.wallets.deletedAt)))
      .orderBy(asc(schema.wallets.createdAt))
      .all();
    return wallets.map((wallet) => {
      const row = this.#d.db
        .select()
        .from(schema.reconciliations)
        .where(eq(schema.reconciliations.walletId, wallet.id))
        .orderBy(desc(schema.reconciliations.id))
        .limit(1)
        .get();
      const last = row
        ? {
            walletId: wallet.id,
            address: wallet.address,
            at: new Date(row.at).toISOString(),
            transfers: row.transfers,
            payouts: row.payouts,
            differences: row.differences,
          }
        : null;
      return { walletId: wallet.id, address: wallet.address, label: wallet.label, last };
    });
  }

  async run(): Promise<ReconciliationView[]> {
    const wallets = this.#d.db
      .select()
      .from(schema.wallets)
      .where(and(eq(schema.wallets.kind, "hot"), isNull(schema.wallets.deletedAt)))
      .all();
    const out: ReconciliationView[] = [];
    for (const wallet of wallets) out.push(await this.#wallet(wallet));
    return out;
  }

  async #wallet(wallet: WalletRow): Promise<ReconciliationView> {
    const contract = this.#d.config().USDT_CONTRACT_ADDRESS;
    // A day of slack: block time and this server's clock need not agree to the minute.
    const transfers = await this.#d.tron().trc20TransfersFrom(wallet.address, contract, wallet.createdAt - DAY_MS, MAX_PAGES);
    const complete = transfers.length < MAX_PAGES * 200;
    const payouts = this.#d.db
      .select()
      .from(schema.payouts)
      .where(and(eq(schema.payouts.walletId, wallet.id), isNotNull(schema.payouts.txid)))
      .all();
    const differences = compare(transfers, payouts, complete);
    const at = Date.now();
    this.#d.db
      .insert(schema.reconciliations)
      .values({ at, walletId: wallet.id, transfers: transfers.length, payouts: payouts.length, differences })
      .run();
    if (differences.length > 0) {
      this.#d.audit("reconciliation", "payout.reconcile_mismatch", wallet.id, { differences: differences.length });
      await this.#d.alert({
        key: `ledger:reconcile:${wallet.id}`,
        severity: "critical",
        source: "payout-reconciliation",
        title: `The hot wallet's on-chain USDT transfers differ from the ledger (${differences.length})`,
        detail: `Wallet ${wallet.id} (${wallet.address}): ${differences.join("; ")}`.slice(0, 2000),
      });
    } else {
      await this.#d.resolveAlert(`ledger:reconcile:${wallet.id}`);
    }
    return {
      walletId: wallet.id,
      address: wallet.address,
      at: new Date(at).toISOString(),
      transfers: transfers.length,
      payouts: payouts.length,
      differences,
    };
  }
}

/** The differences between confirmed on-chain transfers and the ledger's payouts with a txid. */
export function compare(transfers: Trc20Transfer[], payouts: PayoutRow[], complete: boolean): string[] {
  const differences: string[] = [];
  const byTxid = new Map(payouts.map((p) => [p.txid!, p]));
  const seen = new Set<string>();
  for (const t of transfers) {
    if (seen.has(t.txid)) {
      differences.push(`transfer ${t.txid} is listed twice`);
      continue;
    }
    seen.add(t.txid);
    const payout = byTxid.get(t.txid);
    if (!payout) {
      differences.push(`transfer ${t.txid} of ${formatUnits(t.value)} USDT to ${t.to} matches no payout`);
      continue;
    }
    if (t.to !== payout.recipient || t.value !== payout.net) {
      differences.push(
        `transfer ${t.txid} moved ${formatUnits(t.value)} USDT to ${t.to}; payout ${payout.id} is ${formatUnits(payout.net)} USDT to ${payout.recipient}`,
      );
    }
    if (payout.state !== "confirmed" && payout.state !== "broadcast" && payout.state !== "signed") {
      differences.push(`transfer ${t.txid} is on chain but payout ${payout.id} is ${payout.state}`);
    }
  }
  if (complete) {
    for (const p of payouts) {
      if (p.state === "confirmed" && !seen.has(p.txid!))
        differences.push(`payout ${p.id} is confirmed but no transfer ${p.txid} is on chain`);
    }
  }
  return differences;
}
