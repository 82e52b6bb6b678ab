import { formatUnits } from "../../shared/money.ts";
import { accruedReward } from "./rules.ts";
import type * as schema from "./schema.ts";

// Row types, the JSON views the RPC methods return, and the ledger's constants.
export type WalletRow = typeof schema.wallets.$inferSelect;
export type PayoutRow = typeof schema.payouts.$inferSelect;
export type StakeRow = typeof schema.stakes.$inferSelect;
export type WalletKind = WalletRow["kind"];

/** Points in a payout's life after which tests may inject a crash (LUCID_ENV=test only). */
export const CRASH_POINTS = ["signed-unsaved", "signed", "broadcast-sent", "broadcast-recorded", "confirmed"] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** TRON's own wait between unfreezing and withdrawing (Stake 2.0). */
export const TRON_UNFREEZE_WAIT_MS = 14 * 24 * 3600 * 1000;
/** An Idempotency-Key claim older than this without an answer belongs to a request that died. */
export const IDEMPOTENCY_ABANDONED_MS = 60_000;
/** Poll cadence for in-flight transactions: about one TRON block. */
export const CONFIRM_POLL_MS = 3_000;

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
  nodeId: string | null;
  state: schema.PayoutState;
  heldReason: string | null;
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

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function walletView(row: WalletRow): WalletView {
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

export function payoutView(row: PayoutRow): PayoutView {
  return {
    id: row.id,
    recipient: row.recipient,
    amount: formatUnits(row.amount),
    fee: formatUnits(row.fee),
    net: formatUnits(row.net),
    source: row.source,
    requestedBy: row.requestedBy,
    nodeId: row.nodeId,
    state: row.state,
    heldReason: row.heldReason,
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

export function stakeView(row: StakeRow): StakeView {
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
