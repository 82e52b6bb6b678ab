import { and, asc, eq, gte, lt, sql } from "drizzle-orm";
import type { SignedHeader } from "../../shared/chain/block.ts";
import { chainTx, type ChainTx } from "../../shared/chain/transactions.ts";
import type { ChainState } from "./state.ts";
import type { StoredBlock, TransactionLookup } from "./types.ts";
import * as schema from "./schema.ts";

/** Read-only views of the stored chain for explorers and peers (blocks, ranges, transactions, stats). */

export function blockByHeight(state: ChainState, height: number): StoredBlock | null {
  if (height === 0) return { ...state.genesis, txIds: [] };
  const row = state.db.select().from(schema.blocks).where(eq(schema.blocks.height, height)).get();
  return row ? state.stored(row) : null;
}

export function blockByHash(state: ChainState, hash: string): StoredBlock | null {
  if (hash === state.genesis.hash) return { ...state.genesis, txIds: [] };
  const row = state.db.select().from(schema.blocks).where(eq(schema.blocks.hash, hash)).get();
  return row ? state.stored(row) : null;
}

/** Headers from `from` upwards (at most `limit`), for explorers and peers. */
export function headerRange(state: ChainState, from: number, limit: number): SignedHeader[] {
  const rows = state.db
    .select()
    .from(schema.blocks)
    .where(and(gte(schema.blocks.height, Math.max(1, from)), lt(schema.blocks.height, from + limit)))
    .orderBy(asc(schema.blocks.height))
    .all();
  const headers = rows.map((row) => state.signed(row));
  return from <= 0 ? [state.genesis, ...headers].slice(0, limit) : headers;
}

/** Full blocks (headers and transactions) from `from` upwards, for peers. */
export async function blocksWithTxs(state: ChainState, from: number, limit: number): Promise<(SignedHeader & { txs: ChainTx[] })[]> {
  const rows = state.db
    .select()
    .from(schema.blocks)
    .where(and(gte(schema.blocks.height, Math.max(1, from)), lt(schema.blocks.height, Math.max(1, from) + limit)))
    .orderBy(asc(schema.blocks.height))
    .all();
  const out: (SignedHeader & { txs: ChainTx[] })[] = [];
  for (const row of rows) out.push({ ...state.signed(row), txs: await state.blockTxs(row.height) });
  return out;
}

export async function findTransaction(state: ChainState, id: string): Promise<TransactionLookup> {
  const row = state.db.select().from(schema.chainTxs).where(eq(schema.chainTxs.id, id)).get();
  if (row) {
    const tx = row.body ? chainTx.parse(JSON.parse(row.body)) : (await state.blockTxs(row.height))[row.txIndex]!;
    return { tx, height: row.height, txIndex: row.txIndex };
  }
  const queued = state.db.select().from(schema.mempool).where(eq(schema.mempool.id, id)).get();
  return queued ? { tx: chainTx.parse(JSON.parse(queued.body)), pending: true } : null;
}

export function chainStats(state: ChainState) {
  const { db } = state;
  const tip = state.tip();
  const head = tip.block;
  // The head's running totals: reading them costs the same at any chain length.
  const totals = state.totalsThrough(head.header.height);
  const queue = db
    .select({ n: sql<number>`count(*)`, oldest: sql<number | null>`min(${schema.mempool.receivedAt})` })
    .from(schema.mempool)
    .get();
  const pending = queue?.n ?? 0;
  return {
    chain: state.config.BLOCKCHAIN_NETWORK,
    genesisHash: state.genesis.hash,
    height: head.header.height,
    headHash: head.hash,
    headTime: head.header.timestamp,
    transactions: totals.txs,
    anchors: totals.anchors,
    mempool: pending,
    /** When the oldest transaction still waiting for a block arrived (null: none waits). */
    oldestPendingAt: queue?.oldest ?? null,
    weight: tip.cumulativeWeight,
    producer: state.publicKey,
    producers: [...state.producers],
    slotSeconds: state.timing.slotMs / 1000,
    epochSlots: state.timing.epochSlots,
  };
}
