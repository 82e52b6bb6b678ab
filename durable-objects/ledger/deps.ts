import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { AlertInput } from "../../shared/admin.ts";
import type { Config } from "../../shared/config.ts";
import type { TronClient } from "../../shared/tron/client.ts";
import type { TronTransaction } from "../../shared/tron/transaction.ts";
import type * as schema from "./schema.ts";
import type { CrashPoint, WalletRow } from "./views.ts";

/** What the payout router and the staking desk need from LedgerDO (its storage, config, keys, TRON). */
export interface LedgerDeps {
  db: DrizzleSqliteDODatabase<typeof schema>;
  ctx: DurableObjectState;
  config(): Config;
  tron(): TronClient;
  /** A hot wallet's signer; refuses watch-only wallets. The key is unsealed only inside sign(). */
  signer(walletId: string): { address: string; sign(tx: TronTransaction): TronTransaction };
  wallet(id: string): WalletRow;
  balances(address: string, refresh: boolean): Promise<{ trx: bigint; usdt: bigint; fetchedAt: number }>;
  audit(actor: string, action: string, subject: string, detail?: Record<string, unknown>): void;
  /** Runs TRON calls, turning an unreachable node into a 503 problem. */
  chain<T>(call: () => Promise<T>): Promise<T>;
  crashPoint(point: CrashPoint): void;
  /** Test hook (LUCID_ENV=test): true once after injectMemolessBatch(), so the next batch signs without memos. */
  memoless(): boolean;
  /** Raises an admin alert in AdminDO (best effort: a failure is logged, never thrown). */
  alert(input: AlertInput): Promise<void>;
  /** Resolves the admin alert with `key` (its condition cleared; best effort like alert()). */
  resolveAlert(key: string): Promise<void>;
  scheduleBatch(): Promise<void>;
  reconcileStakes(): Promise<void>;
}
