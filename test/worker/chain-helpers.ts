import { BLOCK_VERSION, producerPublicKey, signHeader, txRoot, type BlockHeader, type SignedHeader } from "../../shared/chain/block.ts";
import { epochOfSlot, slotStart, type ChainTiming } from "../../shared/chain/schedule.ts";
import type { ChainTx } from "../../shared/chain/transactions.ts";
import type { CandidateBlock } from "../../shared/chain/validate.ts";

/** A block on `parent` in `slot`, carrying `txs`, signed with `key` as a peer (or this chain's producer) would. */
export function makeBlock(parent: SignedHeader, slot: number, timing: ChainTiming, txs: ChainTx[], key: Uint8Array): CandidateBlock {
  const header: BlockHeader = {
    version: BLOCK_VERSION,
    chain: parent.header.chain,
    height: parent.header.height + 1,
    previousHash: parent.hash,
    timestamp: slotStart(timing, slot) + 1,
    epoch: epochOfSlot(timing, slot),
    slot,
    producer: producerPublicKey(key),
    txRoot: txRoot(txs),
    txCount: txs.length,
  };
  return { ...signHeader(header, key), txs };
}
