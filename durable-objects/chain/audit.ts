import { asc, eq } from "drizzle-orm";
import { blockHeader, type BlockHeader } from "../../shared/chain/block.ts";
import { encodeTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { BlockRejected, validateBlock, type CandidateBlock } from "../../shared/chain/validate.ts";
import type { ChainState } from "./state.ts";
import * as schema from "./schema.ts";

export type AuditResult = { ok: true; height: number } | { ok: false; height: number; fault: string; message: string };

/**
 * Re-checks the stored chain from genesis: every block against the rules a peer's block must
 * pass (hash, signature, parent link, slot, producer, transaction root, no duplicate anchor),
 * against its own stored transactions and their ids, and the indexed columns against the
 * signed header. Names the first block and rule that fail, so any altered stored field shows.
 */
export async function auditChain(state: ChainState): Promise<AuditResult> {
  const { db, config } = state;
  let parent = state.genesis;
  const finals = new Set<string>();
  const rows = db.select().from(schema.blocks).orderBy(asc(schema.blocks.height)).all();
  for (const row of rows) {
    const fail = (fault: string, message: string) => ({ ok: false as const, height: row.height, fault, message });
    let header: BlockHeader;
    let txs: ChainTx[];
    try {
      header = blockHeader.parse(JSON.parse(row.header));
      txs = await state.blockTxs(row.height);
    } catch (error) {
      return fail("malformed", error instanceof Error ? error.message : String(error));
    }
    const candidate: CandidateBlock = { header, hash: row.hash, signature: row.signature, txs };
    try {
      await validateBlock(candidate, {
        chain: config.BLOCKCHAIN_NETWORK,
        timing: state.timing,
        parent,
        weights: state.weightsFor(header.epoch, { maxHeight: row.height - 1, branch: [] }),
        seedHash: state.seedFor(header.epoch, row.height - 1),
        // Clock bounds were checked when the block arrived; an altered timestamp breaks the hash.
        now: Number.MAX_SAFE_INTEGER,
        maxFutureMs: 0,
        hasFinalAnchor: (sessionId) => finals.has(sessionId),
      });
    } catch (error) {
      if (error instanceof BlockRejected) return fail(error.fault, error.message);
      throw error;
    }
    const columns = {
      height: row.height,
      timestamp: row.timestamp,
      slot: row.slot,
      epoch: row.epoch,
      producer: row.producer,
      txCount: row.txCount,
    };
    for (const [column, value] of Object.entries(columns)) {
      if (header[column as keyof typeof columns] !== value)
        return fail("index-mismatch", `column ${column} says ${value}, the signed header says ${header[column as keyof typeof columns]}`);
    }
    const ids = db
      .select({ id: schema.chainTxs.id })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, row.height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all();
    for (const [index, tx] of txs.entries()) {
      if (ids[index]!.id !== encodeTx(tx).id)
        return fail(
          "index-mismatch",
          `transaction ${index} is stored under id ${ids[index]!.id}, its content hashes to ${encodeTx(tx).id}`,
        );
      if (tx.type === "anchor" && !tx.interim) finals.add(tx.sessionId);
    }
    parent = candidate;
  }
  return { ok: true, height: parent.header.height };
}
