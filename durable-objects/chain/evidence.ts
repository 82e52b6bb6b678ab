import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { SignedHeader } from "../../shared/chain/block.ts";
import { txInclusionProof, type TxInclusionProof } from "../../shared/chain/proof.ts";
import type { ChainTx } from "../../shared/chain/transactions.ts";
import type { ChainState } from "./state.ts";
import { tronProof } from "./tron.ts";
import type { AnchorEvidence, AnchorLookup } from "./types.ts";
import * as schema from "./schema.ts";

type TxEvidence = { tx: ChainTx; txId: string; proof: TxInclusionProof; block: SignedHeader };

/** An included transaction's row with its body, inclusion proof and signed block header. */
async function evidenceOf(state: ChainState, row: typeof schema.chainTxs.$inferSelect): Promise<TxEvidence> {
  const block = state.db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
  // Through blockTxs: a pruned block's bodies are in its archive object, not in chain_txs.
  const txs = await state.blockTxs(row.height);
  return { tx: txs[row.txIndex]!, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: state.signed(block) };
}

/** The evidence of an anchor transaction's row; throws when its index names another kind. */
async function anchorEvidenceOf(state: ChainState, row: typeof schema.chainTxs.$inferSelect): Promise<AnchorEvidence> {
  const { tx, ...rest } = await evidenceOf(state, row);
  if (tx.type !== "anchor") throw new Error("index points at a non-anchor transaction");
  return { tx, ...rest };
}

/** Any included transaction with its inclusion proof and signed block header (null while pending or unknown). */
export async function transactionEvidence(state: ChainState, id: string): Promise<TxEvidence | null> {
  const row = state.db.select().from(schema.chainTxs).where(eq(schema.chainTxs.id, id)).get();
  return row ? evidenceOf(state, row) : null;
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
  const evidence = await anchorEvidenceOf(state, row);
  const tron = tronProof(state, evidence.block);
  return { ...evidence, ...(tron ? { tron } : {}) };
}

/** The rows of a session's interim (rolling) anchors on chain. */
const interimRows = (sessionId: string) =>
  and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor"), eq(schema.chainTxs.finalAnchor, false));

/** Every interim (rolling) anchor of a session on chain, smallest prefix first, each with its proof. */
export async function interimAnchors(state: ChainState, sessionId: string): Promise<AnchorEvidence[]> {
  const { db } = state;
  const rows = db
    .select()
    .from(schema.chainTxs)
    .where(interimRows(sessionId))
    .orderBy(asc(schema.chainTxs.height), asc(schema.chainTxs.txIndex))
    .limit(1000)
    .all();
  const out: AnchorEvidence[] = [];
  for (const row of rows) {
    const { tx, ...rest } = await evidenceOf(state, row);
    if (tx.type === "anchor") out.push({ tx, ...rest });
  }
  return out.sort((a, b) => a.tx.chunkCount - b.tx.chunkCount);
}

/**
 * A page of a session's interim anchors on chain, in chain order (for one session's rolling
 * anchors, also by growing prefix), each with its proof; `total` counts them all. Null when the
 * chain knows no anchor of the session at all, neither included nor queued.
 */
export async function interimAnchorPage(
  state: ChainState,
  sessionId: string,
  offset: number,
  limit: number,
): Promise<{ total: number; anchors: AnchorEvidence[] } | null> {
  const { db } = state;
  const interim = interimRows(sessionId);
  const total =
    db
      .select({ n: sql<number>`count(*)` })
      .from(schema.chainTxs)
      .where(interim)
      .get()?.n ?? 0;
  if (total === 0) {
    const anyAnchor = db
      .select({ id: schema.chainTxs.id })
      .from(schema.chainTxs)
      .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor")))
      .get();
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
  for (const row of rows) anchors.push(await anchorEvidenceOf(state, row));
  return { total, anchors };
}
