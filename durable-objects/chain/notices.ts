import { and, eq, lte, ne } from "drizzle-orm";
import { z } from "zod";
import type { SignedHeader } from "../../shared/chain/block.ts";
import { chainTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { logEvent } from "../../shared/log.ts";
import { presentValues, updateRows } from "./bulk.ts";
import type { ChainState } from "./state.ts";
import type { AnchorNotice, AnchorWithdrawal } from "./types.ts";
import * as schema from "./schema.ts";
import { backoffMs } from "../scheduler.ts";
import { objectNamed } from "../../platform/objects.ts";

const sessionRefusal = z.object({ ok: z.literal(false), problem: z.object({ slug: z.string(), detail: z.string() }) });
const withdrawal = z.object({ chain: z.string(), txId: z.string(), withdrawn: z.literal(true) });

/**
 * The notice of a row that waits for its block: a session asked to hear where its final anchor
 * lands (subscribe) and no block holds it yet. Such a row is never delivered; the block that
 * includes the anchor fills it in (queueAnchorNotices). Anchors nobody asked about (queued through
 * the API for a session id, or for none) get no notice when a block includes them: waking the
 * Durable Object of every named session, existing or not, was most of the chain's work per anchor.
 */
export const WAITING = "";

/** Notices that can be delivered (not a WAITING placeholder). */
export const deliverable = ne(schema.anchorNotices.notice, WAITING);

/**
 * The session asks to be told where its final anchor is (after submitting it; inside the caller's
 * transaction): on chain already, the notice is queued now; still in the mempool, a WAITING row
 * the including block fills in. A session with no final anchor queued or included asks for nothing.
 */
export function subscribe(state: ChainState, sessionId: string): void {
  const { db } = state;
  const final = and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.finalAnchor, true));
  const onChain = db.select().from(schema.chainTxs).where(final).get();
  if (onChain) {
    const block = db.select().from(schema.blocks).where(eq(schema.blocks.height, onChain.height)).get();
    if (block) queueAnchorNotice(state, state.signed(block), chainTx.parse(JSON.parse(onChain.body)), onChain.id);
    return;
  }
  const queued = db
    .select({ id: schema.mempool.id })
    .from(schema.mempool)
    .where(and(eq(schema.mempool.sessionId, sessionId), eq(schema.mempool.finalAnchor, true)))
    .get();
  if (!queued) return;
  db.insert(schema.anchorNotices).values({ txId: queued.id, sessionId, notice: WAITING, nextAt: 0 }).onConflictDoNothing().run();
}

/**
 * A final anchor `txId` left the mempool without a block of its own (the session's final anchor
 * reached the chain by another transaction): a session waiting for it is told of that one instead.
 */
export function resubscribe(state: ChainState, txId: string, sessionId: string): void {
  const deleted = state.db
    .delete(schema.anchorNotices)
    .where(and(eq(schema.anchorNotices.txId, txId), eq(schema.anchorNotices.notice, WAITING)))
    .returning({ txId: schema.anchorNotices.txId })
    .all();
  if (deleted.length > 0) subscribe(state, sessionId);
}

/**
 * Outbox entry telling a session its final anchor is in `block` (inside the caller's
 * transaction). Due at once, by the wall clock: a block produced for a slot that starts a
 * little ahead must not hold its notices back until then. One entry per transaction: a later
 * notice (the anchor moved or was withdrawn by a reorg) replaces one not yet delivered.
 */
export function queueAnchorNotice(state: ChainState, block: SignedHeader, tx: ChainTx, txId: string): void {
  if (tx.type !== "anchor" || tx.interim) return;
  queue(state, tx.sessionId, txId, noticeOf(block, txId));
}

/** True when a session waits to hear about `txId` (a WAITING row or a notice not yet delivered). */
export function awaited(state: ChainState, txId: string): boolean {
  return (
    state.db.select({ txId: schema.anchorNotices.txId }).from(schema.anchorNotices).where(eq(schema.anchorNotices.txId, txId)).get() !==
    undefined
  );
}

function noticeOf(block: SignedHeader, txId: string): AnchorNotice {
  return {
    chain: block.header.chain,
    blockHeight: block.header.height,
    blockHash: block.hash,
    txId,
    anchoredAt: new Date(block.header.timestamp).toISOString(),
  };
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

/**
 * The notices of a whole block's final anchors that a session waits for (a WAITING row, or a
 * withdrawal not yet delivered), in one statement (inside the caller's transaction).
 */
export function queueAnchorNotices(state: ChainState, block: SignedHeader, txs: readonly ChainTx[], txIds: readonly string[]): void {
  const finals = txs.flatMap((tx, index) => (tx.type === "anchor" && !tx.interim ? [txIds[index]!] : []));
  // One lookup of which of them a session waits for; only those get a notice built.
  const awaitedIds = presentValues(state.storage, schema.anchorNotices, "txId", finals);
  if (awaitedIds.size === 0) return;
  const now = Date.now();
  const rows = finals
    .filter((txId) => awaitedIds.has(txId))
    .map((txId) => ({ txId, notice: JSON.stringify(noticeOf(block, txId)), attempts: 0, nextAt: now, lastError: null }));
  updateRows(state.storage, schema.anchorNotices, "txId", ["notice", "attempts", "nextAt", "lastError"], rows);
}

/**
 * Tells each session where its final anchor is (SessionDO.recordAnchor) or that a reorg withdrew
 * it (SessionDO.withdrawAnchor). A session that recorded it already, or no longer can (deleted,
 * failed), settles the notice too; anything else is retried with back-off by the next alarm. A
 * notice replaced while it was being delivered stays for the next alarm. A session told of a
 * withdrawal waits again (WAITING), so the block that includes the anchor again tells it where.
 */
export async function deliverAnchorNotices(state: ChainState, now: number): Promise<void> {
  const { db, env } = state;
  const due = db
    .select()
    .from(schema.anchorNotices)
    .where(and(lte(schema.anchorNotices.nextAt, now), deliverable))
    .limit(100)
    .all();
  for (const row of due) {
    let settled = false;
    let waits = false;
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
      waits = withdrawn.success && !problem;
      if (problem && !settled) error = `${problem.slug}: ${problem.detail}`;
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    const unchanged = and(eq(schema.anchorNotices.txId, row.txId), eq(schema.anchorNotices.notice, row.notice));
    if (settled && waits) {
      db.update(schema.anchorNotices).set({ notice: WAITING, attempts: 0, nextAt: 0, lastError: null }).where(unchanged).run();
    } else if (settled) {
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
