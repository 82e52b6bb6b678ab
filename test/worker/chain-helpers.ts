import { BLOCK_VERSION, producerPublicKey, signHeader, txRoot, type BlockHeader, type SignedHeader } from "../../shared/chain/block.ts";
import { epochOfSlot, slotStart, type ChainTiming } from "../../shared/chain/schedule.ts";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { AnchorTx, ChainTx } from "../../shared/chain/transactions.ts";
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

/**
 * A stalled producer: one anchor for `sessionId` waits in the mempool, received `slots` slots (of
 * 10 s) ago, and the chain's alarm is gone, so no block is made until the caller sets it again.
 */
export async function stallChain(sessionId: string, slots: number): Promise<void> {
  const chain = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
  const tx: AnchorTx = {
    type: "anchor",
    sessionId,
    root: "ab".repeat(32),
    chunkCount: 1,
    owner: "user-1",
    node: "node-1",
    interim: false,
  };
  const submitted = await chain.submit([tx]);
  if (!submitted.ok) throw new Error(`the chain refused the anchor: ${JSON.stringify(submitted)}`);
  await runInDurableObject(chain, async (_instance, state) => {
    await state.storage.deleteAlarm();
    state.storage.sql.exec("UPDATE mempool SET received_at = ?", Date.now() - slots * 10_000);
  });
}
