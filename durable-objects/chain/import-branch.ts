import { and, asc, eq, gt } from "drizzle-orm";
import { blockWeight, prefers } from "../../shared/chain/fork-choice.ts";
import { chainTx, encodeTx } from "../../shared/chain/transactions.ts";
import { BlockRejected, validateBlock, type CandidateBlock } from "../../shared/chain/validate.ts";
import { logEvent } from "../../shared/log.ts";
import { awaited, queueAnchorNotice, queueAnchorWithdrawal } from "./notices.ts";
import { fullBlock, type PeerBlock } from "./peers.ts";
import type { ChainState } from "./state.ts";
import type { ImportResult } from "./types.ts";
import * as schema from "./schema.ts";

/**
 * Offers the chain a branch of blocks (a peer's, usually): consecutive blocks whose first
 * one's parent is a stored block. Every block is validated by the same rules as our own,
 * against its branch (schedule seed, earlier anchors); the first invalid block and everything
 * after it are refused, a valid prefix is kept. The branch becomes the chain when it is heavier
 * than the current one (ties: lower head hash). Switching is one SQLite transaction: blocks
 * above the fork point go, the branch comes in, and transactions of the dropped blocks that the
 * branch does not carry return to the mempool.
 */
export async function importBranch(state: ChainState, input: unknown[], now: number): Promise<ImportResult> {
  const { db, config } = state;
  const outcome = (adopted: boolean, valid: number, orphaned: number, fault?: ImportResult["fault"]): ImportResult => {
    const head = state.head();
    return { adopted, valid, orphaned, height: head.header.height, headHash: head.hash, ...(fault ? { fault } : {}) };
  };
  const blocks: PeerBlock[] = [];
  let fault: ImportResult["fault"];
  for (const [index, raw] of input.entries()) {
    const parsed = fullBlock.safeParse(raw);
    if (!parsed.success) {
      fault = { index, fault: "malformed", message: parsed.error.issues[0]?.message ?? "not a block" };
      break;
    }
    blocks.push(parsed.data);
  }
  // Skip what we already have (peers send from a common ancestor they guessed).
  let skip = 0;
  while (skip < blocks.length && state.storedTip(blocks[skip]!.hash)) skip++;
  if (skip === blocks.length) return outcome(false, 0, 0, fault);
  const branch = blocks.slice(skip);
  const fork = state.storedTip(branch[0]!.header.previousHash);
  if (!fork)
    return outcome(false, 0, 0, {
      index: skip,
      fault: "unknown-parent",
      message: `parent ${branch[0]!.header.previousHash} is not a block of this chain`,
    });
  const forkHeight = fork.block.header.height;
  const tip = state.tip();
  if (tip.block.header.height - forkHeight > config.CHAIN_MAX_REORG_DEPTH) {
    return outcome(false, 0, 0, {
      index: skip,
      fault: "reorg-too-deep",
      message: `the branch forks ${tip.block.header.height - forkHeight} blocks below the head`,
    });
  }

  const accepted: { block: CandidateBlock; encoded: { id: string; body: string }[]; weight: number; cumulativeWeight: number }[] = [];
  const branchFinals = new Set<string>();
  let parent = fork.block;
  let cumulativeWeight = fork.cumulativeWeight;
  for (const [offset, block] of branch.entries()) {
    const candidate = block as CandidateBlock;
    const epoch = block.header.epoch;
    const weights = state.weightsFor(epoch, { maxHeight: forkHeight, branch: accepted.map((a) => a.block) });
    const inBranch = accepted.findLast((a) => a.block.header.epoch < epoch);
    const seedHash = inBranch ? inBranch.block.hash : state.seedFor(epoch, forkHeight);
    try {
      await validateBlock(candidate, {
        chain: config.BLOCKCHAIN_NETWORK,
        timing: state.timing,
        parent,
        weights,
        seedHash,
        now,
        maxFutureMs: config.CHAIN_MAX_CLOCK_SKEW_MS,
        hasFinalAnchor: (sessionId) => branchFinals.has(sessionId) || state.hasFinalAnchor(sessionId, false, forkHeight),
      });
    } catch (error) {
      if (!(error instanceof BlockRejected)) throw error;
      fault = { index: skip + offset, fault: error.fault, message: error.message };
      logEvent("warn", "chain.block_refused", {
        height: block.header.height,
        hash: block.hash,
        fault: error.fault,
        message: error.message,
      });
      break;
    }
    for (const tx of candidate.txs) if (tx.type === "anchor" && !tx.interim) branchFinals.add(tx.sessionId);
    const weight = blockWeight(block.header.producer, weights);
    cumulativeWeight += weight;
    accepted.push({ block: candidate, encoded: candidate.txs.map(encodeTx), weight, cumulativeWeight });
    parent = candidate;
  }
  if (accepted.length === 0) return outcome(false, 0, 0, fault);
  const last = accepted.at(-1)!;
  if (!prefers({ weight: last.cumulativeWeight, hash: last.block.hash }, { weight: tip.cumulativeWeight, hash: tip.block.hash })) {
    return outcome(false, accepted.length, 0, fault);
  }

  let orphaned = 0;
  state.storage.transactionSync(() => {
    const dropped = db
      .select()
      .from(schema.chainTxs)
      .where(gt(schema.chainTxs.height, forkHeight))
      .orderBy(asc(schema.chainTxs.height), asc(schema.chainTxs.txIndex))
      .all();
    const droppedIds = new Set(dropped.map((row) => row.id));
    db.delete(schema.chainTxs).where(gt(schema.chainTxs.height, forkHeight)).run();
    db.delete(schema.blocks).where(gt(schema.blocks.height, forkHeight)).run();
    for (const row of dropped) if (row.finalAnchor) db.delete(schema.anchorNotices).where(eq(schema.anchorNotices.txId, row.id)).run();
    const included = new Set<string>();
    for (const { block, encoded, weight, cumulativeWeight } of accepted) {
      state.storeBlock(block, block.txs, encoded, weight, cumulativeWeight);
      block.txs.forEach((tx, txIndex) => {
        const id = encoded[txIndex]!.id;
        included.add(id);
        const queued = db.delete(schema.mempool).where(eq(schema.mempool.id, id)).returning({ id: schema.mempool.id }).all();
        // Only sessions of this deployment hear about it: those whose anchor was on chain here, or
        // queued here by a session waiting to hear where it lands (notices.ts subscribe).
        if (droppedIds.has(id) || (queued.length > 0 && awaited(state, id))) queueAnchorNotice(state, block, tx, id);
      });
    }
    // A dropped final anchor the branch carries was re-announced above, with its new block.
    for (const row of dropped) {
      if (included.has(row.id)) continue;
      if (row.finalAnchor && state.hasFinalAnchor(row.sessionId!, false)) {
        // The branch anchored that session already, by another transaction: the session follows it.
        announceFinalAnchor(state, row.sessionId!);
        continue;
      }
      db.insert(schema.mempool)
        .values({ id: row.id, type: row.type, sessionId: row.sessionId, finalAnchor: row.finalAnchor, body: row.body, receivedAt: now })
        .onConflictDoNothing()
        .run();
      orphaned++;
      // Back in the mempool: the session waits for its anchor again until a block includes it.
      if (row.finalAnchor) queueAnchorWithdrawal(state, row.sessionId!, row.id);
    }
  });
  logEvent("info", "chain.branch_adopted", { fork: forkHeight, blocks: accepted.length, head: last.block.hash, orphaned });
  return outcome(true, accepted.length, orphaned, fault);
}

/** Queues the notice of the session's final anchor on the stored chain (inside the caller's transaction). */
function announceFinalAnchor(state: ChainState, sessionId: string): void {
  const row = state.db
    .select()
    .from(schema.chainTxs)
    .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.finalAnchor, true)))
    .get();
  const block = row && state.db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get();
  if (!row || !block) return;
  queueAnchorNotice(state, state.signed(block), chainTx.parse(JSON.parse(row.body)), row.id);
}
