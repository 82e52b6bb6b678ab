import { z } from "zod";
import { blockHeader, headerHash, txRootOfBodies, verifyHeaderSignature, type SignedHeader } from "./block.ts";
import { epochOfSlot, leaderOf, slotAt, slotStart, type ChainTiming, type ProducerWeight } from "./schedule.ts";
import { chainTx, encodeTx, type ChainTx } from "./transactions.ts";

export interface CandidateBlock extends SignedHeader {
  txs: ChainTx[];
}

export interface ValidationContext {
  chain: string;
  timing: ChainTiming;
  parent: SignedHeader;
  /** Weights of the candidate's epoch and the seed of its schedule (last hash of the previous epoch). */
  weights: readonly ProducerWeight[];
  seedHash: string;
  now: number;
  /** How far in the future a timestamp may be (clock skew between peers). */
  maxFutureMs: number;
  /** True when a final anchor for this session is already on chain (no duplicate anchors). */
  hasFinalAnchor(sessionId: string): boolean;
  /**
   * The transactions' canonical JSON and ids, when the caller made the block from them (a producer
   * checking its own block: its mempool holds both, and the header's root was built from these
   * bodies). Peers' blocks never come with it: their transactions are encoded here.
   */
  encoded?: readonly { id: string; body: string }[];
}

export type BlockFault =
  | "malformed"
  | "wrong-chain"
  | "wrong-height"
  | "wrong-parent"
  | "timestamp"
  | "wrong-slot"
  | "wrong-producer"
  | "bad-hash"
  | "bad-signature"
  | "bad-tx-root"
  | "bad-transaction"
  | "duplicate-anchor";

export class BlockRejected extends Error {
  override name = "BlockRejected";
  constructor(
    readonly fault: BlockFault,
    message: string,
  ) {
    super(message);
  }
}

/** Every rule a block must satisfy to follow `parent`; rejects with BlockRejected naming the first broken one. */
export async function validateBlock(candidate: CandidateBlock, ctx: ValidationContext): Promise<void> {
  const fail = (fault: BlockFault, message: string): never => {
    throw new BlockRejected(fault, message);
  };
  const parsed = blockHeader.safeParse(candidate.header);
  if (!parsed.success) fail("malformed", `header: ${parsed.error.issues[0]?.message}`);
  const h = candidate.header;
  if (h.chain !== ctx.chain) fail("wrong-chain", `block of chain "${h.chain}", expected "${ctx.chain}"`);
  if (h.height !== ctx.parent.header.height + 1) fail("wrong-height", `height ${h.height} does not follow ${ctx.parent.header.height}`);
  if (h.previousHash !== ctx.parent.hash) fail("wrong-parent", `previous hash ${h.previousHash} is not the parent's ${ctx.parent.hash}`);
  if (h.timestamp <= ctx.parent.header.timestamp) fail("timestamp", "timestamp is not after the parent's");
  if (h.timestamp > ctx.now + ctx.maxFutureMs) fail("timestamp", "timestamp is in the future");
  const slot = slotAt(ctx.timing, h.timestamp);
  if (h.slot !== slot || h.slot <= ctx.parent.header.slot) fail("wrong-slot", `slot ${h.slot} does not match timestamp (slot ${slot})`);
  if (h.epoch !== epochOfSlot(ctx.timing, slot)) fail("wrong-slot", `epoch ${h.epoch} does not match slot ${slot}`);
  if (slotStart(ctx.timing, slot) > h.timestamp) fail("wrong-slot", "timestamp before its slot");
  const leader = leaderOf(slot, ctx.seedHash, ctx.weights);
  if (leader !== h.producer) fail("wrong-producer", `slot ${slot} belongs to ${leader ?? "nobody"}, not ${h.producer}`);
  if (headerHash(h) !== candidate.hash) fail("bad-hash", "hash does not match the header");
  if (!(await verifyHeaderSignature(candidate))) fail("bad-signature", "producer signature does not verify");
  if (h.txCount !== candidate.txs.length) fail("bad-tx-root", `txCount ${h.txCount} but ${candidate.txs.length} transactions`);
  const seen = new Set<string>();
  const finals = new Set<string>();
  // Each transaction's canonical JSON once: its id and its Merkle leaf both come from it.
  const bodies: string[] = [];
  for (const [index, tx] of candidate.txs.entries()) {
    const ok = chainTx.safeParse(tx);
    if (!ok.success) fail("bad-transaction", `transaction ${index}: ${z.prettifyError(ok.error)}`);
    const { id, body } = ctx.encoded?.[index] ?? encodeTx(tx);
    bodies.push(body);
    if (seen.has(id)) fail("bad-transaction", `transaction ${index} repeats ${id}`);
    seen.add(id);
    if (tx.type === "anchor" && !tx.interim) {
      if (finals.has(tx.sessionId) || ctx.hasFinalAnchor(tx.sessionId)) {
        fail("duplicate-anchor", `session ${tx.sessionId} is already anchored`);
      }
      finals.add(tx.sessionId);
    }
  }
  if (!ctx.encoded && txRootOfBodies(bodies) !== h.txRoot) fail("bad-tx-root", "transaction root does not match the transactions");
}
