import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { SignedHeader } from "../../shared/chain/block.ts";
import { txInclusionProof, type TxInclusionProof } from "../../shared/chain/proof.ts";
import type { ChainTx } from "../../shared/chain/transactions.ts";
import type { ChainState } from "./state.ts";
import { tronProof } from "./tron.ts";
import type { AnchorEvidence, AnchorLookup } from "./types.ts";
import * as schema from "./schema.ts";

/** Any included transaction with its inclusion proof and signed block header (null while pending or unknown). */
export async function transactionEvidence(state: ChainState, id: string): Promise<{ tx: ChainTx; txId: string; proof: TxInclusionProof; block: SignedHeader } | null> {
  const { db } = state;
  const row = db.select().from(schema.chainTxs).where(eq(schema.chainTxs.id, id)).get();
  if (!row) return null;
  const block = db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
  // Through blockTxs: a pruned block's bodies are in its archive object, not in chain_txs.
  const txs = await state.blockTxs(row.height);
  return { tx: txs[row.txIndex]!, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: state.signed(block) };
}

/** The session's final anchor (or, while it records, its latest interim one) with everything needed to verify it. */
export async function anchorEvidence(state: ChainState, sessionId: string): Promise<AnchorLookup> {
  const { db } = state;
  const rows = db
    .select()
    .from(schema.chainTxs)
    .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor")))
    .orderBy(desc(schema.chainTxs.finalAnchor), desc(schema.chainTxs.height), desc(schema.chainTxs.txIndex))
    .limit(1)
    .all();
  const row = rows[0];
  if (!row) {
    const queued = db.select({ id: schema.mempool.id }).from(schema.mempool).where(eq(schema.mempool.sessionId, sessionId)).get();
    return queued ? { pending: true } : null;
  }
  const block = db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
  const txs = await state.blockTxs(row.height);
  const tx = txs[row.txIndex]!;
  if (tx.type !== "anchor") throw new Error("index points at a non-anchor transaction");
  const signed = state.signed(block);
  const tron = tronProof(state, signed);
  return { tx, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: signed, ...(tron ? { tron } : {}) };
}

/** Every interim (rolling) anchor of a session on chain, smallest prefix first, each with its proof. */
export async function interimAnchors(state: ChainState, sessionId: string): Promise<AnchorEvidence[]> {
  const { db } = state;
  const rows = db
    .select()
    .from(schema.chainTxs)
    .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor"), eq(schema.chainTxs.finalAnchor, false)))
    .orderBy(asc(schema.chainTxs.height), asc(schema.chainTxs.txIndex))
    .limit(1000)
    .all();
  const out: AnchorEvidence[] = [];
  for (const row of rows) {
    const block = db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
    const txs = await state.blockTxs(row.height);
    const tx = txs[row.txIndex]!;
    if (tx.type !== "anchor") continue;
    out.push({ tx, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: state.signed(block) });
  }
  return out.sort((a, b) => a.tx.chunkCount - b.tx.chunkCount);
}

/**
 * A page of a session's interim anchors on chain, in chain order (for one session's rolling
 * anchors, also by growing prefix), each with its proof; `total` counts them all. Null when the
 * chain knows no anchor of the session at all, neither included nor queued.
 */
export async function interimAnchorPage(state: ChainState, sessionId: string, offset: number, limit: number): Promise<{ total: number; anchors: AnchorEvidence[] } | null> {
  const { db } = state;
  const interim = and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor"), eq(schema.chainTxs.finalAnchor, false));
  const total = db.select({ n: sql<number>`count(*)` }).from(schema.chainTxs).where(interim).get()?.n ?? 0;
  if (total === 0) {
    const anyAnchor = db.select({ id: schema.chainTxs.id }).from(schema.chainTxs).where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor"))).get();
    const queued = db.select({ id: schema.mempool.id }).from(schema.mempool).where(eq(schema.mempool.sessionId, sessionId)).get();
    if (!anyAnchor && !queued) return null;
  }
  const rows = db
    .select()
    .from(schema.chainTxs)
    .where(interim)
    .orderBy(asc(schema.chainTxs.height), asc(schema.chainTxs.txIndex))
    .limit(limit)
    .offset(offset)
    .all();
  const anchors: AnchorEvidence[] = [];
  for (const row of rows) {
    const block = db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
    const txs = await state.blockTxs(row.height);
    const tx = txs[row.txIndex]!;
    if (tx.type !== "anchor") throw new Error("index points at a non-anchor transaction");
    anchors.push({ tx, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: state.signed(block) });
  }
  return { total, anchors };
}
