import { asc } from "drizzle-orm";
import { BLOCK_VERSION, signHeader, txRootOfBodies, type BlockHeader, type SignedHeader } from "../../shared/chain/block.ts";
import { blockWeight } from "../../shared/chain/fork-choice.ts";
import { epochOfSlot, leaderOf, slotAt, slotStart } from "../../shared/chain/schedule.ts";
import { chainTx } from "../../shared/chain/transactions.ts";
import { validateBlock } from "../../shared/chain/validate.ts";
import { logEvent } from "../../shared/log.ts";
import { queueAnchorNotices, resubscribe } from "./notices.ts";
import type { ChainState } from "./state.ts";
import * as schema from "./schema.ts";

/**
 * Produces the block of the slot containing `now` if this instance leads it, none exists yet
 * and there is something to include (or empty blocks are enabled). Returns the new header.
 * The block, its transactions, their removal from the mempool and the sessions' notices commit
 * in one SQLite transaction.
 */
export async function produceBlock(state: ChainState, now: number): Promise<SignedHeader | null> {
  const { db, config, timing } = state;
  const tip = state.tip();
  const parent = tip.block;
  const slot = slotAt(timing, now);
  if (slot <= parent.header.slot && parent.header.height > 0) return null;
  if (slot === 0) return null; // slot 0 belongs to genesis
  const epoch = epochOfSlot(timing, slot);
  const weights = state.weightsFor(epoch);
  const seedHash = state.seedFor(epoch);
  if (leaderOf(slot, seedHash, weights) !== state.publicKey) return null;

  const pending = db.select().from(schema.mempool).orderBy(asc(schema.mempool.seq)).limit(config.CHAIN_MAX_TXS_PER_BLOCK).all();
  // A final anchor that reached the chain meanwhile (e.g. from a peer) is dropped, never repeated.
  // One batched lookup for the whole block; it also answers the validation's duplicate-anchor rule.
  const anchoredOnChain = state.finalAnchorsOnChain(pending.flatMap((row) => (row.finalAnchor && row.sessionId ? [row.sessionId] : [])));
  const included = pending.filter((row) => !(row.finalAnchor && anchoredOnChain.has(row.sessionId!)));
  if (included.length === 0 && !config.CHAIN_EMPTY_BLOCKS) {
    if (pending.length > included.length)
      state.storage.transactionSync(() => {
        state.dropFromMempoolThrough(pending.at(-1)!.seq);
        for (const row of pending) if (row.finalAnchor && anchoredOnChain.has(row.sessionId!)) resubscribe(state, row.id, row.sessionId!);
      });
    return null;
  }
  const txs = included.map((row) => chainTx.parse(JSON.parse(row.body)));
  const header: BlockHeader = {
    version: BLOCK_VERSION,
    chain: config.BLOCKCHAIN_NETWORK,
    height: parent.header.height + 1,
    previousHash: parent.hash,
    timestamp: Math.max(now, slotStart(timing, slot)),
    epoch,
    slot,
    producer: state.publicKey,
    // The mempool holds each transaction's canonical JSON: the tree is built from it, not re-encoded.
    txRoot: txRootOfBodies(included.map((row) => row.body)),
    txCount: txs.length,
  };
  const signed = signHeader(header, state.secretKey);
  // The producer checks its own block by the rules every peer applies, reusing the mempool's encoding.
  await validateBlock(
    { ...signed, txs },
    {
      chain: config.BLOCKCHAIN_NETWORK,
      timing,
      parent,
      weights,
      seedHash,
      now,
      maxFutureMs: timing.slotMs,
      hasFinalAnchor: (sessionId) => anchoredOnChain.has(sessionId),
      encoded: included,
    },
  );
  const weight = blockWeight(state.publicKey, weights);
  state.storage.transactionSync(() => {
    state.storeBlock(signed, txs, included, weight, tip.cumulativeWeight + weight);
    if (pending.length > 0) state.dropFromMempoolThrough(pending.at(-1)!.seq);
    // A session waiting for a final anchor dropped as stale hears of the one on chain instead.
    for (const row of pending) if (row.finalAnchor && anchoredOnChain.has(row.sessionId!)) resubscribe(state, row.id, row.sessionId!);
    queueAnchorNotices(
      state,
      signed,
      txs,
      included.map((row) => row.id),
    );
  });
  logEvent("info", "chain.block", { height: header.height, hash: signed.hash, txs: txs.length, slot });
  return signed;
}
