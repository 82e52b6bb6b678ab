import { z } from "zod";
import { chainTx, encodeTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { logEvent } from "../../shared/log.ts";
import { insertRows } from "./bulk.ts";
import type { ChainState } from "./state.ts";
import type { SubmitResult } from "./types.ts";
import * as schema from "./schema.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

/**
 * Validates and queues transactions; identical ones already queued or included are reported, not
 * repeated, and a second final anchor of a session is refused.
 */
export function queueTransactions(state: ChainState, input: unknown[], now: number): SubmitResult {
  const txs: ChainTx[] = [];
  for (const [index, raw] of input.entries()) {
    const parsed = chainTx.safeParse(raw);
    if (!parsed.success) return { ok: false, reason: "invalid", index, message: z.prettifyError(parsed.error) };
    txs.push(parsed.data);
  }
  // Canonical bytes and ids once per transaction: both the id and the stored body come from them.
  const entries = txs.map((tx) => ({ tx, ...encodeTx(tx), final: tx.type === "anchor" && !tx.interim }));
  // What is already here, in a few IN queries per batch rather than several queries per transaction.
  const stored = state.knownIds(entries.map((e) => e.id));
  const anchored = state.sessionsWithFinalAnchor([
    ...new Set(entries.flatMap((e) => (e.final && e.tx.type === "anchor" ? [e.tx.sessionId] : []))),
  ]);
  const accepted: string[] = [];
  const known = new Set<string>();
  const finalsInBatch = new Set<string>();
  for (const [index, { tx, id, final }] of entries.entries()) {
    if (!final || tx.type !== "anchor") continue;
    if (finalsInBatch.has(tx.sessionId) || anchored.has(tx.sessionId)) {
      if (stored.has(id) || finalsInBatch.has(`${tx.sessionId}\n${id}`)) {
        known.add(id);
        continue;
      }
      return { ok: false, reason: "duplicate-anchor", index, message: `session ${tx.sessionId} already has a final anchor` };
    }
    finalsInBatch.add(tx.sessionId).add(`${tx.sessionId}\n${id}`);
  }
  const rows: (typeof schema.mempool.$inferInsert)[] = [];
  const queued = new Set<string>();
  for (const { tx, id, body, final } of entries) {
    // Already here, or a repeat later in this batch: reported as known, never queued twice.
    if (stored.has(id) || queued.has(id)) {
      known.add(id);
      continue;
    }
    queued.add(id);
    rows.push({ id, type: tx.type, sessionId: tx.type === "anchor" ? tx.sessionId : null, finalAnchor: final, body, receivedAt: now });
    accepted.push(id);
  }
  insertRows(state.storage, schema.mempool, ["id", "type", "sessionId", "finalAnchor", "body", "receivedAt"], rows);
  return { ok: true, accepted, alreadyKnown: [...known] };
}

/**
 * Pulls work credits and node events from every node pool's outbox into the mempool (pull, so a
 * pool never waits on the chain). A pool's entries are acknowledged once the mempool holds them
 * (durably: ChainDO's SQLite); ids are stable, so a repeat after a crash between submit and ack is
 * recognised as known.
 */
export async function pullFromNodePools(state: ChainState, submit: (txs: unknown[]) => Promise<SubmitResult>): Promise<number> {
  const { env } = state;
  const directory = singleton(env, "NODE_DIRECTORY");
  let pulled = 0;
  for (const { name } of await directory.listPools()) {
    const pool = objectNamed(env, "NODE_POOLS", name);
    const txs = await pool.pendingChainTransactions(500);
    if (txs.length === 0) continue;
    const result = await submit(txs);
    if (!result.ok) {
      // A record the chain refuses stays in the pool's outbox, visible, rather than vanishing.
      logEvent("error", "chain.node_tx_refused", { pool: name, index: result.index, reason: result.reason, message: result.message });
      continue;
    }
    await pool.ackChainTransactions(txs.map((tx) => tx.id));
    pulled += txs.length;
  }
  return pulled;
}
