/**
 * Repairs a ledger written before payouts had a unique txid (migration 0002). Back then two
 * approved payouts with the same recipient and amount in one batch became byte-identical TRON
 * transactions: one transfer landed and both rows said `confirmed` with its txid. Creating the
 * unique index over such rows would fail and leave the ledger unable to start, so before the
 * migrations run, every payout that shares its txid with an earlier one (by creation time) goes
 * back to `requested` without a transaction, for an admin to approve again: it was never paid.
 * The earliest row keeps the txid. Each reverted payout gets a payout event saying why.
 */
import { logEvent } from "../../shared/log.ts";

const TXID_INDEX = "payouts_txid";

export interface RevertedPayout {
  id: string;
  txid: string;
  /** The payout that keeps the txid. */
  keptBy: string;
  fromState: string;
}

/** Runs before the ledger's migrations; does nothing once the unique index exists. */
export function revertDuplicateTxids(sql: SqlStorage, now = Date.now()): RevertedPayout[] {
  const exists = (type: string, name: string) =>
    sql.exec("SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?", type, name).toArray().length > 0;
  if (!exists("table", "payouts") || exists("index", TXID_INDEX)) return [];
  const rows = sql
    .exec<{ id: string; txid: string; state: string }>(
      `SELECT id, txid, state FROM payouts
       WHERE txid IN (SELECT txid FROM payouts WHERE txid IS NOT NULL GROUP BY txid HAVING COUNT(*) > 1)
       ORDER BY txid, created_at, id`,
    )
    .toArray();
  const reverted: RevertedPayout[] = [];
  let keeper: { id: string; txid: string } | null = null;
  for (const row of rows) {
    if (keeper?.txid !== row.txid) {
      keeper = row;
      continue;
    }
    reverted.push({ id: row.id, txid: row.txid, keptBy: keeper.id, fromState: row.state });
  }
  for (const r of reverted) {
    sql.exec(
      `UPDATE payouts SET state = 'requested', txid = NULL, tx_json = NULL, expiration = NULL, batch_id = NULL,
         approved_by = NULL, wallet_id = NULL, block_number = NULL, first_signed_at = NULL, updated_at = ? WHERE id = ?`,
      now,
      r.id,
    );
    sql.exec(
      "INSERT INTO payout_events (payout_id, from_state, to_state, at, detail) VALUES (?, ?, 'requested', ?, ?)",
      r.id,
      r.fromState,
      now,
      `never paid: txid ${r.txid} is payout ${r.keptBy}'s transfer; back to requested for an admin to approve again`,
    );
    logEvent("warn", "payout.duplicate_txid_reverted", { payoutId: r.id, txid: r.txid, keptBy: r.keptBy, fromState: r.fromState });
  }
  return reverted;
}
