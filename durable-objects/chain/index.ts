import { and, asc, desc, eq, gt, gte, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import { z } from "zod";
import { canonicalJson } from "../../shared/chain/canonical.ts";
import {
  BLOCK_VERSION,
  blockHeader,
  genesisHeader,
  hexToBytes,
  producerPublicKey,
  signHeader,
  txRoot,
  type BlockHeader,
  type SignedHeader,
} from "../../shared/chain/block.ts";
import { txInclusionProof, type TxInclusionProof } from "../../shared/chain/proof.ts";
import { CREDIT_LAG_EPOCHS, creditWeightOf, epochOfSlot, leaderOf, pootWeights, slotAt, slotStart, type ChainTiming, type ProducerWeight } from "../../shared/chain/schedule.ts";
import { chainTx, encodeTx, type AnchorTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { blockWeight, prefers } from "../../shared/chain/fork-choice.ts";
import { anchorMemo, type TronAnchorProof } from "../../shared/chain/tron-anchor.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { BlockRejected, validateBlock, type BlockFault, type CandidateBlock } from "../../shared/chain/validate.ts";
import { loadConfig, type Config } from "../../shared/config.ts";
import type { Env } from "../../shared/env.ts";
import { logEvent } from "../../shared/log.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import { chunkStoreFor } from "../../functions/chunk-store/index.ts";
import { archiveKey, readArchive, writeArchive } from "./archive.ts";
import { fullBlock, PeerBackoff, PeerClient, PeerError, type PeerBlock } from "./peers.ts";
import * as schema from "./schema.ts";

export interface StoredBlock extends SignedHeader {
  txIds: string[];
}

export type SubmitResult =
  | { ok: true; accepted: string[]; alreadyKnown: string[] }
  | { ok: false; reason: "invalid" | "duplicate-anchor"; index: number; message: string };

/** What a session records when its final anchor is in a block (shared/session.ts anchorSchema). */
export interface AnchorNotice {
  chain: string;
  blockHeight: number;
  blockHash: string;
  txId: string;
  anchoredAt: string;
}

export type TransactionLookup = { tx: ChainTx; height: number; txIndex: number } | { tx: ChainTx; pending: true } | null;
export type AnchorLookup = AnchorEvidence | { pending: true } | null;

export interface AnchorEvidence {
  tx: AnchorTx;
  txId: string;
  proof: TxInclusionProof;
  block: SignedHeader;
  /** The block's anchor on TRON, once an epoch anchor at or above it is in a TRON block. */
  tron?: TronAnchorProof;
}

/** What became of a branch of blocks offered by a peer (importBlocks). */
export interface ImportResult {
  adopted: boolean;
  /** Blocks of the branch that passed validation (a valid prefix is kept when a later block fails). */
  valid: number;
  height: number;
  headHash: string;
  /** Transactions returned to the mempool by a reorg. */
  orphaned: number;
  fault?: { index: number; fault: BlockFault | "unknown-parent" | "reorg-too-deep"; message: string };
}

export interface SyncReport {
  peer: string;
  ok: boolean;
  result?: ImportResult;
  error?: string;
}

/** Blocks fetched from a peer per request, and at most per sync round. */
const SYNC_PAGE = 50;
const SYNC_MAX_BLOCKS = 1000;
const PEER_TIMEOUT_MS = 5_000;

/** How often the chain looks into the node pools' outboxes (work credits close once an epoch). */
export const NODE_PULL_INTERVAL_MS = 60_000;

const sessionRefusal = z.object({ ok: z.literal(false), problem: z.object({ slug: z.string(), detail: z.string() }) });

const producerKey = z.string().regex(/^[0-9a-f]{64}$/, "CHAIN_PRODUCER_KEY must be 64 lowercase hex characters (an Ed25519 seed)");

/**
 * The Lucid chain on one instance: the single writer of blocks, included transactions, the
 * mempool and the epoch weights. Blocks come from alarms, one per slot at most, only in slots
 * this instance leads (a single-producer deployment leads every slot). A block, its
 * transactions and the removal of those transactions from the mempool commit in one SQLite
 * transaction, so a crash at any point leaves either the old head or the new one: no fork, no
 * transaction lost or included twice.
 */
export class ChainDO extends SqlDurableObject<typeof schema, Env> {
  #config!: Config;
  #timing!: ChainTiming;
  #secretKey!: Uint8Array;
  #publicKey!: string;
  #genesis!: SignedHeader;
  #nextNodePullAt = 0;
  #producers: string[] = [];
  readonly #peerBackoff = new PeerBackoff();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
  }

  protected override async onStart(): Promise<void> {
    this.#config = loadConfig(this.env);
    const key = producerKey.parse(this.env.CHAIN_PRODUCER_KEY);
    this.#secretKey = hexToBytes(key);
    this.#publicKey = producerPublicKey(this.#secretKey);
    this.#timing = {
      genesisTime: this.#config.CHAIN_GENESIS_TIME,
      slotMs: this.#config.BLOCK_INTERVAL_SECONDS * 1000,
      epochSlots: this.#config.CHAIN_EPOCH_SLOTS,
    };
    this.#genesis = genesisHeader(this.#config.BLOCKCHAIN_NETWORK, this.#timing.genesisTime);
    this.#producers = [...new Set([...(this.#config.CHAIN_PRODUCERS ?? []), this.#publicKey])].sort();
    // Blocks stored before fork choice existed were all single-producer blocks of weight 1.
    this.ctx.storage.sql.exec("UPDATE blocks SET weight = 1, cumulative_weight = height WHERE cumulative_weight = 0");
    // A chain with peers or empty blocks runs by itself: its alarm loop starts with the object.
    if ((this.#config.CHAIN_PEERS || this.#config.CHAIN_EMPTY_BLOCKS) && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + 100);
    }
  }

  /** Public facts a verifier or peer needs: chain name, timing, genesis hash and this producer's key. */
  async info() {
    await this.ready();
    return { chain: this.#config.BLOCKCHAIN_NETWORK, timing: this.#timing, genesisHash: this.#genesis.hash, producer: this.#publicKey };
  }

  /** Validates and queues transactions; identical ones already queued or included are reported, not repeated. */
  async submit(input: unknown[]): Promise<SubmitResult> {
    await this.ready();
    const txs: ChainTx[] = [];
    for (const [index, raw] of input.entries()) {
      const parsed = chainTx.safeParse(raw);
      if (!parsed.success) return { ok: false, reason: "invalid", index, message: z.prettifyError(parsed.error) };
      txs.push(parsed.data);
    }
    // Canonical bytes and ids once per transaction: both the id and the stored body come from them.
    const entries = txs.map((tx) => ({ tx, ...encodeTx(tx), final: tx.type === "anchor" && !tx.interim }));
    // What is already here, in a few IN queries per batch rather than several queries per transaction.
    const stored = this.#knownIds(entries.map((e) => e.id));
    const anchored = this.#sessionsWithFinalAnchor([...new Set(entries.flatMap((e) => (e.final && e.tx.type === "anchor" ? [e.tx.sessionId] : [])))]);
    const accepted: string[] = [];
    const known = new Set<string>();
    const now = Date.now();
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
    this.ctx.storage.transactionSync(() => {
      // 6 bound parameters a row: 16 rows a statement stay within DO SQLite's limit of 100.
      for (let i = 0; i < rows.length; i += 16) this.db.insert(schema.mempool).values(rows.slice(i, i + 16)).run();
    });
    if (accepted.length > 0) await this.#scheduleNextBlock(now);
    return { ok: true, accepted, alreadyKnown: [...known] };
  }

  /** Sets the operational-time weights of an epoch's producers (written by the nodes function). */
  async setEpochWeights(epoch: number, weights: ProducerWeight[]): Promise<void> {
    await this.ready();
    this.ctx.storage.transactionSync(() => {
      this.db.delete(schema.epochWeights).where(eq(schema.epochWeights.epoch, epoch)).run();
      for (const w of weights) this.db.insert(schema.epochWeights).values({ epoch, ...w }).run();
    });
  }

  override async alarm(): Promise<void> {
    await this.ready();
    const now = Date.now();
    try {
      await this.pullNodeTransactions(now);
      await this.syncWithPeers(now);
      this.produceAt(Date.now());
      await this.#deliverAnchorNotices(now);
      await this.anchorOnTron(now);
      await this.archiveBlocks();
    } catch (error) {
      // The runtime retries the alarm; say why, since nothing else will.
      logEvent("error", "chain.produce_failed", { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      throw error;
    } finally {
      await this.#scheduleNextBlock(now, true);
    }
  }

  /**
   * Produces the block of the slot containing `now` if this instance leads it, none exists yet
   * and there is something to include (or empty blocks are enabled). Returns the new header.
   */
  produceAt(now: number): SignedHeader | null {
    const tip = this.#tip();
    const parent = tip.block;
    const slot = slotAt(this.#timing, now);
    if (slot <= parent.header.slot && parent.header.height > 0) return null;
    if (slot === 0) return null; // slot 0 belongs to genesis
    const epoch = epochOfSlot(this.#timing, slot);
    const weights = this.#weightsFor(epoch);
    const seedHash = this.#seedFor(epoch);
    if (leaderOf(slot, seedHash, weights) !== this.#publicKey) return null;

    const pending = this.db
      .select()
      .from(schema.mempool)
      .orderBy(asc(schema.mempool.seq))
      .limit(this.#config.CHAIN_MAX_TXS_PER_BLOCK)
      .all();
    // A final anchor that reached the chain meanwhile (e.g. from a peer) is dropped, never repeated.
    const stale = pending.filter((row) => row.finalAnchor && this.#hasFinalAnchor(row.sessionId!, false));
    const included = pending.filter((row) => !stale.includes(row));
    if (included.length === 0 && !this.#config.CHAIN_EMPTY_BLOCKS) {
      if (stale.length) this.#dropFromMempoolThrough(pending.at(-1)!.seq);
      return null;
    }
    const txs = included.map((row) => chainTx.parse(JSON.parse(row.body)));
    const header: BlockHeader = {
      version: BLOCK_VERSION,
      chain: this.#config.BLOCKCHAIN_NETWORK,
      height: parent.header.height + 1,
      previousHash: parent.hash,
      timestamp: Math.max(now, slotStart(this.#timing, slot)),
      epoch,
      slot,
      producer: this.#publicKey,
      txRoot: txRoot(txs),
      txCount: txs.length,
    };
    const signed = signHeader(header, this.#secretKey);
    // The producer checks its own block by the rules every peer applies.
    validateBlock(
      { ...signed, txs },
      {
        chain: this.#config.BLOCKCHAIN_NETWORK,
        timing: this.#timing,
        parent,
        weights,
        seedHash,
        now,
        maxFutureMs: this.#timing.slotMs,
        hasFinalAnchor: (sessionId) => this.#hasFinalAnchor(sessionId, false),
      },
    );
    const weight = blockWeight(this.#publicKey, weights);
    this.ctx.storage.transactionSync(() => {
      this.#storeBlock(signed, txs, included, weight, tip.cumulativeWeight + weight);
      if (pending.length > 0) this.#dropFromMempoolThrough(pending.at(-1)!.seq);
      txs.forEach((tx, txIndex) => this.#queueNotice(signed, tx, included[txIndex]!.id));
    });
    logEvent("info", "chain.block", { height: header.height, hash: signed.hash, txs: txs.length, slot });
    return signed;
  }

  /**
   * Offers this instance a branch of blocks (a peer's, usually): consecutive blocks whose first
   * one's parent is a block stored here. Every block is validated by the same rules as our own,
   * against its branch (schedule seed, earlier anchors); the first invalid block and everything
   * after it are refused, a valid prefix is kept. The branch becomes the chain when it is heavier
   * than the current one (ties: lower head hash). Switching is one SQLite transaction: blocks
   * above the fork point go, the branch comes in, and transactions of the dropped blocks that the
   * branch does not carry return to the mempool.
   */
  async importBlocks(input: unknown[], now = Date.now()): Promise<ImportResult> {
    await this.ready();
    const outcome = (adopted: boolean, valid: number, orphaned: number, fault?: ImportResult["fault"]): ImportResult => {
      const head = this.#head();
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
    while (skip < blocks.length && this.#storedTip(blocks[skip]!.hash)) skip++;
    if (skip === blocks.length) return outcome(false, 0, 0, fault);
    const branch = blocks.slice(skip);
    const fork = this.#storedTip(branch[0]!.header.previousHash);
    if (!fork) return outcome(false, 0, 0, { index: skip, fault: "unknown-parent", message: `parent ${branch[0]!.header.previousHash} is not a block of this chain` });
    const forkHeight = fork.block.header.height;
    const tip = this.#tip();
    if (tip.block.header.height - forkHeight > this.#config.CHAIN_MAX_REORG_DEPTH) {
      return outcome(false, 0, 0, { index: skip, fault: "reorg-too-deep", message: `the branch forks ${tip.block.header.height - forkHeight} blocks below the head` });
    }

    const accepted: { block: CandidateBlock; encoded: { id: string; body: string }[]; weight: number; cumulativeWeight: number }[] = [];
    const branchFinals = new Set<string>();
    let parent = fork.block;
    let cumulativeWeight = fork.cumulativeWeight;
    for (const [offset, block] of branch.entries()) {
      const candidate = block as CandidateBlock;
      const epoch = block.header.epoch;
      const weights = this.#weightsFor(epoch, { maxHeight: forkHeight, branch: accepted.map((a) => a.block) });
      const inBranch = accepted.findLast((a) => a.block.header.epoch < epoch);
      const seedHash = inBranch ? inBranch.block.hash : this.#seedFor(epoch, forkHeight);
      try {
        validateBlock(candidate, {
          chain: this.#config.BLOCKCHAIN_NETWORK,
          timing: this.#timing,
          parent,
          weights,
          seedHash,
          now,
          maxFutureMs: this.#config.CHAIN_MAX_CLOCK_SKEW_MS,
          hasFinalAnchor: (sessionId) => branchFinals.has(sessionId) || this.#hasFinalAnchor(sessionId, false, forkHeight),
        });
      } catch (error) {
        if (!(error instanceof BlockRejected)) throw error;
        fault = { index: skip + offset, fault: error.fault, message: error.message };
        logEvent("warn", "chain.block_refused", { height: block.header.height, hash: block.hash, fault: error.fault, message: error.message });
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
    this.ctx.storage.transactionSync(() => {
      const dropped = this.db.select().from(schema.chainTxs).where(gt(schema.chainTxs.height, forkHeight)).orderBy(asc(schema.chainTxs.height), asc(schema.chainTxs.txIndex)).all();
      const droppedIds = new Set(dropped.map((row) => row.id));
      this.db.delete(schema.chainTxs).where(gt(schema.chainTxs.height, forkHeight)).run();
      this.db.delete(schema.blocks).where(gt(schema.blocks.height, forkHeight)).run();
      for (const row of dropped) if (row.finalAnchor) this.db.delete(schema.anchorNotices).where(eq(schema.anchorNotices.txId, row.id)).run();
      const included = new Set<string>();
      for (const { block, encoded, weight, cumulativeWeight } of accepted) {
        this.#storeBlock(block, block.txs, encoded, weight, cumulativeWeight);
        block.txs.forEach((tx, txIndex) => {
          const id = encoded[txIndex]!.id;
          included.add(id);
          const queued = this.db.delete(schema.mempool).where(eq(schema.mempool.id, id)).returning({ id: schema.mempool.id }).all();
          // Only sessions of this deployment hear about it: those whose anchor was queued or on chain here.
          if (queued.length > 0 || droppedIds.has(id)) this.#queueNotice(block, tx, id);
        });
      }
      for (const row of dropped) {
        if (included.has(row.id)) continue;
        if (row.finalAnchor && this.#hasFinalAnchor(row.sessionId!, false)) continue; // the branch anchored that session already
        this.db
          .insert(schema.mempool)
          .values({ id: row.id, type: row.type, sessionId: row.sessionId, finalAnchor: row.finalAnchor, body: row.body, receivedAt: now })
          .onConflictDoNothing()
          .run();
        orphaned++;
      }
    });
    logEvent("info", "chain.branch_adopted", { fork: forkHeight, blocks: accepted.length, head: last.block.hash, orphaned });
    await this.#scheduleNextBlock(now);
    return outcome(true, accepted.length, orphaned, fault);
  }

  /**
   * One round of peer sync: asks each configured peer for its head and, when the peer claims a
   * heavier chain, finds the fork point from its headers, fetches the branch and imports it
   * (importBlocks validates everything; a peer's claims are never trusted). A peer that fails is
   * backed off; the next round is the retry.
   */
  async syncWithPeers(now = Date.now()): Promise<SyncReport[]> {
    await this.ready();
    const reports: SyncReport[] = [];
    for (const peer of this.#config.CHAIN_PEERS ?? []) {
      if (!this.#peerBackoff.ready(peer, now)) continue;
      const client = new PeerClient(peer, PEER_TIMEOUT_MS);
      try {
        const stats = await client.stats();
        if (stats.chain !== this.#config.BLOCKCHAIN_NETWORK) throw new PeerError(`${peer} serves chain "${stats.chain}"`);
        const tip = this.#tip();
        let result: ImportResult | undefined;
        if (prefers({ weight: stats.weight, hash: stats.headHash }, { weight: tip.cumulativeWeight, hash: tip.block.hash })) {
          const fork = await this.#forkPoint(client, Math.min(tip.block.header.height, stats.height));
          const branch: PeerBlock[] = [];
          for (let from = fork + 1; from <= stats.height && branch.length < SYNC_MAX_BLOCKS; ) {
            const page = await client.blocks(from, Math.min(SYNC_PAGE, stats.height - from + 1));
            if (page.length === 0) break;
            branch.push(...page);
            from = page.at(-1)!.header.height + 1;
          }
          result = await this.importBlocks(branch, Date.now());
        }
        this.#peerBackoff.succeeded(peer);
        reports.push({ peer, ok: true, ...(result ? { result } : {}) });
      } catch (error) {
        if (!(error instanceof PeerError)) throw error;
        this.#peerBackoff.failed(peer, now, this.#timing.slotMs);
        logEvent("warn", "chain.peer_unreachable", { peer, error: error.message });
        reports.push({ peer, ok: false, error: error.message });
      }
    }
    return reports;
  }

  /** The highest height at or below `top` where the peer's block is ours too (0: genesis). */
  async #forkPoint(client: PeerClient, top: number): Promise<number> {
    const headHeight = this.#head().header.height;
    for (let high = top; high > 0; ) {
      if (headHeight - high > this.#config.CHAIN_MAX_REORG_DEPTH) throw new PeerError(`${client.baseUrl} forked more than ${this.#config.CHAIN_MAX_REORG_DEPTH} blocks ago`);
      const from = Math.max(1, high - SYNC_PAGE + 1);
      const headers = await client.headers(from, high - from + 1);
      for (const peerHeader of headers.reverse()) {
        const height = peerHeader.header.height;
        if (height > high) continue;
        const ours = this.db.select({ hash: schema.blocks.hash }).from(schema.blocks).where(eq(schema.blocks.height, height)).get();
        if (ours?.hash === peerHeader.hash) return height;
      }
      high = from - 1;
    }
    return 0;
  }

  /** Full blocks (headers and transactions) from `from` upwards, for peers. */
  async blocksWithTxs(from: number, limit: number): Promise<(SignedHeader & { txs: ChainTx[] })[]> {
    await this.ready();
    const rows = this.db
      .select()
      .from(schema.blocks)
      .where(and(gte(schema.blocks.height, Math.max(1, from)), lt(schema.blocks.height, Math.max(1, from) + limit)))
      .orderBy(asc(schema.blocks.height))
      .all();
    const out: (SignedHeader & { txs: ChainTx[] })[] = [];
    for (const row of rows) out.push({ ...this.#signed(row), txs: await this.#blockTxs(row.height) });
    return out;
  }

  /** A block's transactions, from SQLite or, once pruned, from its archive object (checked against the header). */
  async #blockTxs(height: number): Promise<ChainTx[]> {
    const rows = this.db
      .select({ id: schema.chainTxs.id, body: schema.chainTxs.body })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all();
    const block = this.db.select().from(schema.blocks).where(eq(schema.blocks.height, height)).get();
    if (block?.archiveKey) {
      return readArchive(chunkStoreFor(this.env), block.archiveKey, this.#signed(block), rows.map((r) => r.id));
    }
    return rows.map((t) => chainTx.parse(JSON.parse(t.body)));
  }

  /**
   * Pruning: moves the transaction bodies of blocks more than `retention` below the head to the
   * chunk store as archive objects (a few blocks per call); headers, ids and the session/node
   * indexes stay in SQLite, and every read goes through #blockTxs, so queries and proofs do not
   * change. The object is written before the bodies are dropped: a crash in between only means
   * the object is written again.
   */
  async archiveBlocks(retention = this.#config.CHAIN_RETENTION_BLOCKS, max = 50): Promise<number> {
    await this.ready();
    if (retention === 0) return 0;
    const cutoff = this.#head().header.height - retention;
    const due = this.db
      .select()
      .from(schema.blocks)
      .where(and(lte(schema.blocks.height, cutoff), isNull(schema.blocks.archiveKey)))
      .orderBy(asc(schema.blocks.height))
      .limit(max)
      .all();
    const store = chunkStoreFor(this.env);
    for (const row of due) {
      const bodies = this.db
        .select({ body: schema.chainTxs.body })
        .from(schema.chainTxs)
        .where(eq(schema.chainTxs.height, row.height))
        .orderBy(asc(schema.chainTxs.txIndex))
        .all()
        .map((t) => t.body);
      const key = archiveKey(this.#config.BLOCKCHAIN_NETWORK, row.height, row.hash);
      await writeArchive(store, key, this.#signed(row), bodies);
      this.ctx.storage.transactionSync(() => {
        this.db.update(schema.chainTxs).set({ body: "" }).where(eq(schema.chainTxs.height, row.height)).run();
        this.db.update(schema.blocks).set({ archiveKey: key }).where(and(eq(schema.blocks.height, row.height), eq(schema.blocks.hash, row.hash))).run();
      });
    }
    if (due.length) logEvent("info", "chain.blocks_archived", { from: due[0]!.height, to: due.at(-1)!.height });
    return due.length;
  }

  /**
   * Re-checks the stored chain from genesis: every block against the rules a peer's block must
   * pass (hash, signature, parent link, slot, producer, transaction root, no duplicate anchor),
   * against its own stored transactions and their ids, and the indexed columns against the
   * signed header. Names the first block and rule that fail, so any altered stored field shows.
   */
  async audit(): Promise<{ ok: true; height: number } | { ok: false; height: number; fault: string; message: string }> {
    await this.ready();
    let parent = this.#genesis;
    const finals = new Set<string>();
    const rows = this.db.select().from(schema.blocks).orderBy(asc(schema.blocks.height)).all();
    for (const row of rows) {
      const fail = (fault: string, message: string) => ({ ok: false as const, height: row.height, fault, message });
      let header: BlockHeader;
      let txs: ChainTx[];
      try {
        header = blockHeader.parse(JSON.parse(row.header));
        txs = await this.#blockTxs(row.height);
      } catch (error) {
        return fail("malformed", error instanceof Error ? error.message : String(error));
      }
      const candidate: CandidateBlock = { header, hash: row.hash, signature: row.signature, txs };
      try {
        validateBlock(candidate, {
          chain: this.#config.BLOCKCHAIN_NETWORK,
          timing: this.#timing,
          parent,
          weights: this.#weightsFor(header.epoch, { maxHeight: row.height - 1, branch: [] }),
          seedHash: this.#seedFor(header.epoch, row.height - 1),
          // Clock bounds were checked when the block arrived; an altered timestamp breaks the hash.
          now: Number.MAX_SAFE_INTEGER,
          maxFutureMs: 0,
          hasFinalAnchor: (sessionId) => finals.has(sessionId),
        });
      } catch (error) {
        if (error instanceof BlockRejected) return fail(error.fault, error.message);
        throw error;
      }
      const columns = { height: row.height, timestamp: row.timestamp, slot: row.slot, epoch: row.epoch, producer: row.producer, txCount: row.txCount };
      for (const [column, value] of Object.entries(columns)) {
        if (header[column as keyof typeof columns] !== value) return fail("index-mismatch", `column ${column} says ${value}, the signed header says ${header[column as keyof typeof columns]}`);
      }
      const ids = this.db.select({ id: schema.chainTxs.id }).from(schema.chainTxs).where(eq(schema.chainTxs.height, row.height)).orderBy(asc(schema.chainTxs.txIndex)).all();
      for (const [index, tx] of txs.entries()) {
        if (ids[index]!.id !== encodeTx(tx).id) return fail("index-mismatch", `transaction ${index} is stored under id ${ids[index]!.id}, its content hashes to ${encodeTx(tx).id}`);
        if (tx.type === "anchor" && !tx.interim) finals.add(tx.sessionId);
      }
      parent = candidate;
    }
    return { ok: true, height: parent.header.height };
  }

  /**
   * Once an epoch has ended, anchors the head it ended with on TRON through the payments function
   * (LedgerDO.anchorOnTron), then follows that TRON transaction to solidification, a few epochs
   * at a time, with back-off when the ledger or TRON cannot help yet (no hot wallet, node down).
   * A reorg that replaces an anchored block before it is solidified re-anchors the new one.
   */
  async anchorOnTron(now = Date.now()): Promise<void> {
    await this.ready();
    if (!this.#config.CHAIN_TRON_ANCHORING) return;
    const closed = epochOfSlot(this.#timing, slotAt(this.#timing, now)) - 1;
    if (closed >= 0) {
      const last = this.db.select().from(schema.blocks).where(lte(schema.blocks.epoch, closed)).orderBy(desc(schema.blocks.height)).limit(1).get();
      if (last && last.epoch === closed) {
        this.db
          .insert(schema.tronAnchors)
          .values({ epoch: closed, height: last.height, hash: last.hash, state: "pending", nextAt: now, updatedAt: now })
          .onConflictDoNothing()
          .run();
      }
    }
    const due = this.db
      .select()
      .from(schema.tronAnchors)
      .where(and(lte(schema.tronAnchors.nextAt, now), sql`${schema.tronAnchors.state} != 'solidified'`))
      .orderBy(asc(schema.tronAnchors.epoch))
      .limit(4)
      .all();
    const ledger = this.env.LEDGER.get(this.env.LEDGER.idFromName("ledger"));
    for (let row of due) {
      const current = this.db.select().from(schema.blocks).where(eq(schema.blocks.epoch, row.epoch)).orderBy(desc(schema.blocks.height)).limit(1).get();
      if (!current) {
        this.db.delete(schema.tronAnchors).where(eq(schema.tronAnchors.epoch, row.epoch)).run();
        continue;
      }
      if (current.hash !== row.hash) {
        const reset = { height: current.height, hash: current.hash, state: "pending" as const, txid: null, rawDataHex: null, blockNumber: null, confirmations: 0, attempts: 0 };
        this.db.update(schema.tronAnchors).set(reset).where(eq(schema.tronAnchors.epoch, row.epoch)).run();
        row = { ...row, ...reset };
      }
      const memo = anchorMemo(this.#config.BLOCKCHAIN_NETWORK, row.epoch, row.height, row.hash);
      const memoHex = toHex(new TextEncoder().encode(memo));
      let error: string | null = null;
      try {
        const result = await ledger.anchorOnTron(`chain:${this.#config.BLOCKCHAIN_NETWORK}:${row.epoch}:${row.hash.slice(0, 16)}`, memoHex);
        if (result.ok) {
          const v = result.value;
          this.db
            .update(schema.tronAnchors)
            .set({ state: v.state, txid: v.txid, rawDataHex: v.rawDataHex, blockNumber: v.blockNumber, confirmations: v.confirmations, attempts: 0, nextAt: now + this.#timing.slotMs, lastError: null, updatedAt: now })
            .where(and(eq(schema.tronAnchors.epoch, row.epoch), eq(schema.tronAnchors.hash, row.hash)))
            .run();
          if (v.state === "solidified") logEvent("info", "chain.tron_anchor_solidified", { epoch: row.epoch, height: row.height, txid: v.txid, blockNumber: v.blockNumber });
          continue;
        }
        error = `${result.problem.slug}: ${result.problem.detail}`;
      } catch (caught) {
        error = caught instanceof Error ? caught.message : String(caught);
      }
      const attempts = row.attempts + 1;
      this.db
        .update(schema.tronAnchors)
        .set({ attempts, nextAt: now + Math.min(this.#timing.slotMs * 2 ** attempts, 3_600_000), lastError: error, updatedAt: now })
        .where(eq(schema.tronAnchors.epoch, row.epoch))
        .run();
      logEvent("warn", "chain.tron_anchor_failed", { epoch: row.epoch, attempts, error });
    }
  }

  /** The first TRON anchor at or above `height` that TRON has included, with the headers linking to it. */
  #tronProof(block: SignedHeader): TronAnchorProof | undefined {
    const row = this.db
      .select()
      .from(schema.tronAnchors)
      .where(and(gte(schema.tronAnchors.height, block.header.height), sql`${schema.tronAnchors.state} IN ('included', 'solidified')`))
      .orderBy(asc(schema.tronAnchors.height))
      .limit(1)
      .get();
    if (!row || !row.txid || !row.rawDataHex || row.blockNumber === null) return undefined;
    const headers = this.db
      .select()
      .from(schema.blocks)
      .where(and(gt(schema.blocks.height, block.header.height), lte(schema.blocks.height, row.height)))
      .orderBy(asc(schema.blocks.height))
      .all()
      .map((r) => this.#signed(r));
    if ((headers.at(-1)?.hash ?? block.hash) !== row.hash) return undefined; // anchored block no longer on this chain
    return {
      network: this.#config.TRON_NETWORK,
      txid: row.txid,
      rawDataHex: row.rawDataHex,
      blockNumber: row.blockNumber,
      confirmations: row.confirmations,
      solidified: row.state === "solidified",
      headers,
    };
  }

  /** Where the TRON anchors stand (newest first). */
  async tronAnchors(limit = 20) {
    await this.ready();
    return this.db.select().from(schema.tronAnchors).orderBy(desc(schema.tronAnchors.epoch)).limit(limit).all();
  }

  async head(): Promise<SignedHeader> {
    await this.ready();
    return this.#head();
  }

  async blockByHeight(height: number): Promise<StoredBlock | null> {
    await this.ready();
    if (height === 0) return { ...this.#genesis, txIds: [] };
    const row = this.db.select().from(schema.blocks).where(eq(schema.blocks.height, height)).get();
    return row ? this.#stored(row) : null;
  }

  async blockByHash(hash: string): Promise<StoredBlock | null> {
    await this.ready();
    if (hash === this.#genesis.hash) return { ...this.#genesis, txIds: [] };
    const row = this.db.select().from(schema.blocks).where(eq(schema.blocks.hash, hash)).get();
    return row ? this.#stored(row) : null;
  }

  /** Headers from `from` upwards (at most `limit`), for explorers and peers. */
  async range(from: number, limit: number): Promise<SignedHeader[]> {
    await this.ready();
    const rows = this.db
      .select()
      .from(schema.blocks)
      .where(and(gte(schema.blocks.height, Math.max(1, from)), lt(schema.blocks.height, from + limit)))
      .orderBy(asc(schema.blocks.height))
      .all();
    const headers = rows.map((row) => this.#signed(row));
    return from <= 0 ? [this.#genesis, ...headers].slice(0, limit) : headers;
  }

  async transaction(id: string): Promise<TransactionLookup> {
    await this.ready();
    const row = this.db.select().from(schema.chainTxs).where(eq(schema.chainTxs.id, id)).get();
    if (row) {
      const tx = row.body ? chainTx.parse(JSON.parse(row.body)) : (await this.#blockTxs(row.height))[row.txIndex]!;
      return { tx, height: row.height, txIndex: row.txIndex };
    }
    const queued = this.db.select().from(schema.mempool).where(eq(schema.mempool.id, id)).get();
    return queued ? { tx: chainTx.parse(JSON.parse(queued.body)), pending: true } : null;
  }

  /** Any included transaction with its inclusion proof and signed block header (null while pending or unknown). */
  async transactionEvidence(id: string): Promise<{ tx: ChainTx; txId: string; proof: TxInclusionProof; block: SignedHeader } | null> {
    await this.ready();
    const row = this.db.select().from(schema.chainTxs).where(eq(schema.chainTxs.id, id)).get();
    if (!row) return null;
    const block = this.db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
    // Through #blockTxs: a pruned block's bodies are in its archive object, not in chain_txs.
    const txs = await this.#blockTxs(row.height);
    return { tx: txs[row.txIndex]!, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: this.#signed(block) };
  }

  /** The session's final anchor (or, while it records, its latest interim one) with everything needed to verify it. */
  async anchorEvidence(sessionId: string): Promise<AnchorLookup> {
    await this.ready();
    const rows = this.db
      .select()
      .from(schema.chainTxs)
      .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor")))
      .orderBy(desc(schema.chainTxs.finalAnchor), desc(schema.chainTxs.height), desc(schema.chainTxs.txIndex))
      .limit(1)
      .all();
    const row = rows[0];
    if (!row) {
      const queued = this.db.select({ id: schema.mempool.id }).from(schema.mempool).where(eq(schema.mempool.sessionId, sessionId)).get();
      return queued ? { pending: true } : null;
    }
    const block = this.db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
    const txs = await this.#blockTxs(row.height);
    const tx = txs[row.txIndex]!;
    if (tx.type !== "anchor") throw new Error("index points at a non-anchor transaction");
    const signed = this.#signed(block);
    const tron = this.#tronProof(signed);
    return { tx, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: signed, ...(tron ? { tron } : {}) };
  }

  /** Every interim (rolling) anchor of a session on chain, smallest prefix first, each with its proof. */
  async interimAnchors(sessionId: string): Promise<AnchorEvidence[]> {
    await this.ready();
    const rows = this.db
      .select()
      .from(schema.chainTxs)
      .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.type, "anchor"), eq(schema.chainTxs.finalAnchor, false)))
      .orderBy(asc(schema.chainTxs.height), asc(schema.chainTxs.txIndex))
      .limit(1000)
      .all();
    const out: AnchorEvidence[] = [];
    for (const row of rows) {
      const block = this.db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
      const txs = await this.#blockTxs(row.height);
      const tx = txs[row.txIndex]!;
      if (tx.type !== "anchor") continue;
      out.push({ tx, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: this.#signed(block) });
    }
    return out.sort((a, b) => a.tx.chunkCount - b.tx.chunkCount);
  }

  async stats() {
    await this.ready();
    const head = this.#head();
    const txCount = this.db.select({ n: sql<number>`count(*)` }).from(schema.chainTxs).get()?.n ?? 0;
    const pending = this.db.select({ n: sql<number>`count(*)` }).from(schema.mempool).get()?.n ?? 0;
    const anchors = this.db
      .select({ n: sql<number>`count(*)` })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.type, "anchor"))
      .get()?.n ?? 0;
    return {
      chain: this.#config.BLOCKCHAIN_NETWORK,
      height: head.header.height,
      headHash: head.hash,
      headTime: head.header.timestamp,
      transactions: txCount,
      anchors,
      mempool: pending,
      weight: this.#tip().cumulativeWeight,
      producer: this.#publicKey,
      producers: this.#producers,
      slotSeconds: this.#timing.slotMs / 1000,
      epochSlots: this.#timing.epochSlots,
    };
  }

  #head(): SignedHeader {
    return this.#tip().block;
  }

  /** The head with the chain's cumulative PoOT weight (fork choice compares these). */
  #tip(): { block: SignedHeader; cumulativeWeight: number } {
    const row = this.db.select().from(schema.blocks).orderBy(desc(schema.blocks.height)).limit(1).get();
    return row ? { block: this.#signed(row), cumulativeWeight: row.cumulativeWeight } : { block: this.#genesis, cumulativeWeight: 0 };
  }

  /** A block of the stored chain by hash, with its cumulative weight (genesis included). */
  #storedTip(hash: string): { block: SignedHeader; cumulativeWeight: number } | null {
    if (hash === this.#genesis.hash) return { block: this.#genesis, cumulativeWeight: 0 };
    const row = this.db.select().from(schema.blocks).where(eq(schema.blocks.hash, hash)).get();
    return row ? { block: this.#signed(row), cumulativeWeight: row.cumulativeWeight } : null;
  }

  /** Writes a block and its transactions (inside the caller's SQLite transaction). */
  #storeBlock(signed: SignedHeader, txs: readonly ChainTx[], encoded: readonly { id: string; body: string }[], weight: number, cumulativeWeight: number): void {
    const header = signed.header;
    this.db
      .insert(schema.blocks)
      .values({
        height: header.height,
        hash: signed.hash,
        header: canonicalJson(header),
        signature: signed.signature,
        timestamp: header.timestamp,
        slot: header.slot,
        epoch: header.epoch,
        producer: header.producer,
        txCount: txs.length,
        weight,
        cumulativeWeight,
        creditWeight: creditWeightOf(txs),
      })
      .run();
    txs.forEach((tx, txIndex) => {
      this.db
        .insert(schema.chainTxs)
        .values({
          id: encoded[txIndex]!.id,
          height: header.height,
          txIndex,
          type: tx.type,
          sessionId: tx.type === "anchor" ? tx.sessionId : null,
          nodeId: tx.type === "work-credit" || tx.type === "node-event" ? tx.nodeId : tx.type === "anchor" ? tx.node : null,
          finalAnchor: tx.type === "anchor" && !tx.interim,
          body: encoded[txIndex]!.body,
        })
        .run();
    });
  }

  /**
   * Outbox entry telling a session its final anchor is in `block` (inside the caller's
   * transaction). Due at once, by the wall clock: a block produced for a slot that starts a
   * little ahead must not hold its notices back until then.
   */
  #queueNotice(block: SignedHeader, tx: ChainTx, txId: string): void {
    const now = Date.now();
    if (tx.type !== "anchor" || tx.interim) return;
    const notice: AnchorNotice = {
      chain: block.header.chain,
      blockHeight: block.header.height,
      blockHash: block.hash,
      txId,
      anchoredAt: new Date(block.header.timestamp).toISOString(),
    };
    this.db
      .insert(schema.anchorNotices)
      .values({ txId, sessionId: tx.sessionId, notice: JSON.stringify(notice), nextAt: now })
      .onConflictDoUpdate({ target: schema.anchorNotices.txId, set: { notice: JSON.stringify(notice), attempts: 0, nextAt: now, lastError: null } })
      .run();
  }

  #signed(row: typeof schema.blocks.$inferSelect): SignedHeader {
    return { header: blockHeader.parse(JSON.parse(row.header)), hash: row.hash, signature: row.signature };
  }

  #stored(row: typeof schema.blocks.$inferSelect): StoredBlock {
    const txIds = this.db
      .select({ id: schema.chainTxs.id })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, row.height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all()
      .map((t) => t.id);
    return { ...this.#signed(row), txIds };
  }

  /** Which of `ids` are included or queued already (IN lists within the bound-parameter limit). */
  #knownIds(ids: readonly string[]): Set<string> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 90) {
      const slice = ids.slice(i, i + 90);
      for (const r of this.db.select({ id: schema.chainTxs.id }).from(schema.chainTxs).where(inArray(schema.chainTxs.id, slice)).all()) found.add(r.id);
      for (const r of this.db.select({ id: schema.mempool.id }).from(schema.mempool).where(inArray(schema.mempool.id, slice)).all()) found.add(r.id);
    }
    return found;
  }

  /** Which of `sessionIds` have a final anchor included or queued. */
  #sessionsWithFinalAnchor(sessionIds: readonly string[]): Set<string> {
    const found = new Set<string>();
    for (let i = 0; i < sessionIds.length; i += 90) {
      const slice = sessionIds.slice(i, i + 90);
      const onChain = this.db
        .select({ s: schema.chainTxs.sessionId })
        .from(schema.chainTxs)
        .where(and(inArray(schema.chainTxs.sessionId, slice), eq(schema.chainTxs.finalAnchor, true)))
        .all();
      const queued = this.db
        .select({ s: schema.mempool.sessionId })
        .from(schema.mempool)
        .where(and(inArray(schema.mempool.sessionId, slice), eq(schema.mempool.finalAnchor, true)))
        .all();
      for (const r of [...onChain, ...queued]) if (r.s) found.add(r.s);
    }
    return found;
  }

  #hasFinalAnchor(sessionId: string, includeMempool: boolean, maxHeight = Number.MAX_SAFE_INTEGER): boolean {
    const onChain = this.db
      .select({ id: schema.chainTxs.id })
      .from(schema.chainTxs)
      .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.finalAnchor, true), lte(schema.chainTxs.height, maxHeight)))
      .get();
    if (onChain) return true;
    if (!includeMempool) return false;
    return (
      this.db
        .select({ id: schema.mempool.id })
        .from(schema.mempool)
        .where(and(eq(schema.mempool.sessionId, sessionId), eq(schema.mempool.finalAnchor, true)))
        .get() !== undefined
    );
  }

  /**
   * Removes every queued transaction up to `seq`: those are exactly the ones just included or
   * found stale (`pending` is the head of the queue). A range keeps the statement within DO
   * SQLite's limit of 100 bound parameters however large the block.
   */
  #dropFromMempoolThrough(seq: number): void {
    this.db.delete(schema.mempool).where(lte(schema.mempool.seq, seq)).run();
  }


  /**
   * The schedule's weights for `epoch`: explicit ones when set (setEpochWeights), otherwise the
   * configured producers weighted by the work credits recorded on chain CREDIT_LAG_EPOCHS earlier
   * (shared/chain/schedule.ts pootWeights). `view` limits the stored chain to a fork point and adds
   * the blocks of a branch being validated, so a branch is weighed by its own history.
   */
  #weightsFor(epoch: number, view: { maxHeight: number; branch: readonly CandidateBlock[] } = { maxHeight: Number.MAX_SAFE_INTEGER, branch: [] }): ProducerWeight[] {
    const rows = this.db
      .select({ producer: schema.epochWeights.producer, weight: schema.epochWeights.weight })
      .from(schema.epochWeights)
      .where(eq(schema.epochWeights.epoch, epoch))
      .all();
    if (rows.length > 0) return rows;
    const creditEpoch = epoch - CREDIT_LAG_EPOCHS;
    const credits = new Map<string, number>();
    if (creditEpoch >= 0) {
      const sums = this.db
        .select({ producer: schema.blocks.producer, credit: sql<number>`sum(${schema.blocks.creditWeight})` })
        .from(schema.blocks)
        .where(and(eq(schema.blocks.epoch, creditEpoch), lte(schema.blocks.height, view.maxHeight)))
        .groupBy(schema.blocks.producer)
        .all();
      for (const { producer, credit } of sums) credits.set(producer, Number(credit));
      for (const block of view.branch) {
        if (block.header.epoch === creditEpoch) credits.set(block.header.producer, (credits.get(block.header.producer) ?? 0) + creditWeightOf(block.txs));
      }
    }
    return pootWeights(this.#producers, credits);
  }

  /** An epoch's leader-schedule inputs on the stored chain (for explorers and operators). */
  async epochSchedule(epoch: number): Promise<{ epoch: number; seedHash: string; weights: ProducerWeight[] }> {
    await this.ready();
    return { epoch, seedHash: this.#seedFor(epoch), weights: this.#weightsFor(epoch) };
  }


  /** The schedule's seed: the last block hash before `epoch` began (genesis for epoch 0), at or below `maxHeight`. */
  #seedFor(epoch: number, maxHeight = Number.MAX_SAFE_INTEGER): string {
    const row = this.db
      .select({ hash: schema.blocks.hash })
      .from(schema.blocks)
      .where(and(lt(schema.blocks.epoch, epoch), lte(schema.blocks.height, maxHeight)))
      .orderBy(desc(schema.blocks.height))
      .limit(1)
      .get();
    return row?.hash ?? this.#genesis.hash;
  }

  /**
   * Pulls work credits and node events from every node pool's outbox into the mempool, at most
   * once per NODE_PULL_INTERVAL_MS (pull, so a pool never waits on the chain). A pool's entries are
   * acknowledged once the mempool holds them (durably: this object's SQLite); ids are stable, so a
   * repeat after a crash between submit and ack is recognised as known.
   */
  async pullNodeTransactions(now: number): Promise<number> {
    await this.ready();
    if (now < this.#nextNodePullAt) return 0;
    this.#nextNodePullAt = now + NODE_PULL_INTERVAL_MS;
    const directory = this.env.NODE_DIRECTORY.get(this.env.NODE_DIRECTORY.idFromName("directory"));
    let pulled = 0;
    for (const { name } of await directory.listPools()) {
      const pool = this.env.NODE_POOLS.get(this.env.NODE_POOLS.idFromName(name));
      const txs = await pool.pendingChainTransactions(500);
      if (txs.length === 0) continue;
      const result = await this.submit(txs);
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

  /**
   * Tells each session whose final anchor was included (SessionDO.recordAnchor). A session that
   * recorded it already, or no longer can (deleted, failed), settles the notice too; anything else
   * is retried with back-off by the next alarm.
   */
  async #deliverAnchorNotices(now: number): Promise<void> {
    const due = this.db.select().from(schema.anchorNotices).where(lte(schema.anchorNotices.nextAt, now)).limit(100).all();
    for (const row of due) {
      let settled = false;
      let error: string | null = null;
      try {
        const notice = JSON.parse(row.notice) as AnchorNotice;
        const result = await this.env.SESSIONS.get(this.env.SESSIONS.idFromName(row.sessionId)).recordAnchor(notice);
        // RPC's type mapping blurs the Result union: validate the refusal instead of trusting a type.
        const refused = sessionRefusal.safeParse(result);
        const problem = refused.success ? refused.data.problem : undefined;
        settled = !problem || problem.slug === "invalid-state" || problem.slug === "not-found";
        if (problem && !settled) error = `${problem.slug}: ${problem.detail}`;
      } catch (caught) {
        error = caught instanceof Error ? caught.message : String(caught);
      }
      if (settled) {
        this.db.delete(schema.anchorNotices).where(eq(schema.anchorNotices.txId, row.txId)).run();
      } else {
        const attempts = row.attempts + 1;
        const delay = Math.min(this.#timing.slotMs * 2 ** attempts, 3_600_000);
        this.db
          .update(schema.anchorNotices)
          .set({ attempts, nextAt: now + delay, lastError: error })
          .where(eq(schema.anchorNotices.txId, row.txId))
          .run();
        logEvent("warn", "chain.anchor_notice_failed", { sessionId: row.sessionId, attempts, error });
      }
    }
  }

  /**
   * Arms the alarm for the next slot when there is work. From submit() only when no alarm is
   * pending (never pushing a due alarm into the future, which would starve production); from
   * the alarm handler itself unconditionally, since the running alarm is cleared when it returns.
   */
  async #scheduleNextBlock(now: number, fromAlarm = false): Promise<void> {
    const pending = this.db.select({ seq: schema.mempool.seq }).from(schema.mempool).limit(1).get();
    const notice = this.db
      .select({ nextAt: schema.anchorNotices.nextAt })
      .from(schema.anchorNotices)
      .orderBy(asc(schema.anchorNotices.nextAt))
      .limit(1)
      .get();
    const nextSlot = slotStart(this.#timing, slotAt(this.#timing, now) + 1);
    // Always wake for the next pull of the node pools; sooner for a block or a due notice.
    const candidates = [Math.max(now, this.#nextNodePullAt, now + 1000)];
    // Peers are asked every slot, and an instance with peers may lead the next one.
    if (pending || this.#config.CHAIN_EMPTY_BLOCKS || this.#config.CHAIN_PEERS) candidates.push(nextSlot);
    if (notice) candidates.push(Math.max(now, notice.nextAt));
    const next = Math.min(...candidates);
    const current = fromAlarm ? null : await this.ctx.storage.getAlarm();
    // A pending alarm is kept unless it is later than needed or overdue by more than a slot
    // (then it is not going to fire on its own: the storage can report a spent alarm time).
    const keep = current !== null && current <= next && current >= now - this.#timing.slotMs;
    if (!keep) await this.ctx.storage.setAlarm(next);
  }

}

