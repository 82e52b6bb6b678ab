import { and, eq, lte } from "drizzle-orm";
import { z } from "zod";
import type { SignedHeader } from "../../shared/chain/block.ts";
import type { ChainTx } from "../../shared/chain/transactions.ts";
import { logEvent } from "../../shared/log.ts";
import { insertRows } from "./bulk.ts";
import type { ChainState } from "./state.ts";
import type { AnchorNotice, AnchorWithdrawal } from "./types.ts";
import * as schema from "./schema.ts";
import { backoffMs } from "../scheduler.ts";
import { objectNamed } from "../../platform/objects.ts";

const sessionRefusal = z.object({ ok: z.literal(false), problem: z.object({ slug: z.string(), detail: z.string() }) });
const withdrawal = z.object({ chain: z.string(), txId: z.string(), withdrawn: z.literal(true) });

/**
 * Outbox entry telling a session its final anchor is in `block` (inside the caller's
 * transaction). Due at once, by the wall clock: a block produced for a slot that starts a
 * little ahead must not hold its notices back until then. One entry per transaction: a later
 * notice (the anchor moved or was withdrawn by a reorg) replaces one not yet delivered.
 */
export function queueAnchorNotice(state: ChainState, block: SignedHeader, tx: ChainTx, txId: string): void {
  if (tx.type !== "anchor" || tx.interim) return;
  const notice: AnchorNotice = {
    chain: block.header.chain,
    blockHeight: block.header.height,
    blockHash: block.hash,
    txId,
    anchoredAt: new Date(block.header.timestamp).toISOString(),
  };
  queue(state, tx.sessionId, txId, notice);
}

/** Outbox entry telling a session that a reorg took its final anchor back to the mempool (inside the caller's transaction). */
export function queueAnchorWithdrawal(state: ChainState, sessionId: string, txId: string): void {
  const notice: AnchorWithdrawal = { chain: state.config.BLOCKCHAIN_NETWORK, txId, withdrawn: true };
  queue(state, sessionId, txId, notice);
}

function queue(state: ChainState, sessionId: string, txId: string, notice: AnchorNotice | AnchorWithdrawal): void {
  const now = Date.now();
  state.db
    .insert(schema.anchorNotices)
    .values({ txId, sessionId, notice: JSON.stringify(notice), nextAt: now })
    .onConflictDoUpdate({
      target: schema.anchorNotices.txId,
      set: { notice: JSON.stringify(notice), attempts: 0, nextAt: now, lastError: null },
    })
    .run();
}

/** queueAnchorNotice for a whole block's transactions, in multi-row statements (inside the caller's transaction). */
export function queueAnchorNotices(state: ChainState, block: SignedHeader, txs: readonly ChainTx[], txIds: readonly string[]): void {
  const now = Date.now();
  const anchoredAt = new Date(block.header.timestamp).toISOString();
  const rows = txs.flatMap((tx, index) => {
    if (tx.type !== "anchor" || tx.interim) return [];
    const notice: AnchorNotice = {
      chain: block.header.chain,
      blockHeight: block.header.height,
      blockHash: block.hash,
      txId: txIds[index]!,
      anchoredAt,
    };
    return [{ txId: txIds[index]!, sessionId: tx.sessionId, notice: JSON.stringify(notice), attempts: 0, nextAt: now, lastError: null }];
  });
  insertRows(state.storage, schema.anchorNotices, ["txId", "sessionId", "notice", "attempts", "nextAt", "lastError"], rows, {
    target: "txId",
    set: ["notice", "attempts", "nextAt", "lastError"],
  });
}

/**
 * Tells each session where its final anchor is (SessionDO.recordAnchor) or that a reorg withdrew
 * it (SessionDO.withdrawAnchor). A session that recorded it already, or no longer can (deleted,
 * failed), settles the notice too; anything else is retried with back-off by the next alarm. A
 * notice replaced while it was being delivered stays for the next alarm.
 */
export async function deliverAnchorNotices(state: ChainState, now: number): Promise<void> {
  const { db, env } = state;
  const due = db.select().from(schema.anchorNotices).where(lte(schema.anchorNotices.nextAt, now)).limit(100).all();
  for (const row of due) {
    let settled = false;
    let error: string | null = null;
    try {
      const parsed: unknown = JSON.parse(row.notice);
      const session = objectNamed(env, "SESSIONS", row.sessionId);
      const withdrawn = withdrawal.safeParse(parsed);
      const result = withdrawn.success ? await session.withdrawAnchor(withdrawn.data) : await session.recordAnchor(parsed as AnchorNotice);
      // RPC's type mapping blurs the Result union: validate the refusal instead of trusting a type.
      const refused = sessionRefusal.safeParse(result);
      const problem = refused.success ? refused.data.problem : undefined;
      settled = !problem || problem.slug === "invalid-state" || problem.slug === "not-found";
      if (problem && !settled) error = `${problem.slug}: ${problem.detail}`;
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    const unchanged = and(eq(schema.anchorNotices.txId, row.txId), eq(schema.anchorNotices.notice, row.notice));
    if (settled) {
      db.delete(schema.anchorNotices).where(unchanged).run();
    } else {
      const attempts = row.attempts + 1;
      const delay = backoffMs(attempts, { baseMs: 2 * state.timing.slotMs, maxMs: 3_600_000 });
      db.update(schema.anchorNotices)
        .set({ attempts, nextAt: now + delay, lastError: error })
        .where(unchanged)
        .run();
      logEvent("warn", "chain.anchor_notice_failed", { sessionId: row.sessionId, attempts, error });
    }
  }
}
