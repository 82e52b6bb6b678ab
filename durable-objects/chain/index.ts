import { and, asc, desc, eq, gte, lt, lte, sql } from "drizzle-orm";
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
import { epochOfSlot, leaderOf, slotAt, slotStart, type ChainTiming, type ProducerWeight } from "../../shared/chain/schedule.ts";
import { chainTx, encodeTx, type AnchorTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { validateBlock } from "../../shared/chain/validate.ts";
import { loadConfig, type Config } from "../../shared/config.ts";
import type { Env } from "../../shared/env.ts";
import { logEvent } from "../../shared/log.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
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
}

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

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
  }

  protected override onStart(): void {
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
    const entries = txs.map((tx) => ({ tx, ...encodeTx(tx) }));
    const accepted: string[] = [];
    const known = new Set<string>();
    const now = Date.now();
    const finalsInBatch = new Set<string>();
    for (const [index, { tx, id }] of entries.entries()) {
      const final = tx.type === "anchor" && !tx.interim;
      if (final && (finalsInBatch.has(tx.sessionId) || this.#hasFinalAnchor(tx.sessionId, true))) {
        if (this.#known(id)) {
          known.add(id);
          continue;
        }
        return { ok: false, reason: "duplicate-anchor", index, message: `session ${tx.sessionId} already has a final anchor` };
      }
      if (final) finalsInBatch.add(tx.sessionId);
    }
    this.ctx.storage.transactionSync(() => {
      for (const { tx, id, body } of entries) {
        if (known.has(id) || this.#known(id)) {
          known.add(id);
          continue;
        }
        this.db
          .insert(schema.mempool)
          .values({
            id,
            type: tx.type,
            sessionId: tx.type === "anchor" ? tx.sessionId : null,
            finalAnchor: tx.type === "anchor" && !tx.interim,
            body,
            receivedAt: now,
          })
          .run();
        accepted.push(id);
      }
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
      this.produceAt(now);
      await this.#deliverAnchorNotices(now);
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
    const parent = this.#head();
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
    this.ctx.storage.transactionSync(() => {
      this.db
        .insert(schema.blocks)
        .values({
          height: header.height,
          hash: signed.hash,
          header: canonicalJson(header),
          signature: signed.signature,
          timestamp: header.timestamp,
          slot,
          epoch,
          producer: header.producer,
          txCount: txs.length,
        })
        .run();
      txs.forEach((tx, txIndex) => {
        this.db
          .insert(schema.chainTxs)
          .values({
            id: included[txIndex]!.id,
            height: header.height,
            txIndex,
            type: tx.type,
            sessionId: tx.type === "anchor" ? tx.sessionId : null,
            nodeId: tx.type === "work-credit" || tx.type === "node-event" ? tx.nodeId : tx.type === "anchor" ? tx.node : null,
            finalAnchor: tx.type === "anchor" && !tx.interim,
            body: included[txIndex]!.body,
          })
          .run();
      });
      this.#dropFromMempoolThrough(pending.at(-1)!.seq);
      txs.forEach((tx, txIndex) => {
        if (tx.type !== "anchor" || tx.interim) return;
        const notice: AnchorNotice = {
          chain: header.chain,
          blockHeight: header.height,
          blockHash: signed.hash,
          txId: included[txIndex]!.id,
          anchoredAt: new Date(header.timestamp).toISOString(),
        };
        this.db
          .insert(schema.anchorNotices)
          .values({ txId: notice.txId, sessionId: tx.sessionId, notice: JSON.stringify(notice), nextAt: now })
          .run();
      });
    });
    logEvent("info", "chain.block", { height: header.height, hash: signed.hash, txs: txs.length, slot });
    return signed;
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
    if (row) return { tx: chainTx.parse(JSON.parse(row.body)), height: row.height, txIndex: row.txIndex };
    const queued = this.db.select().from(schema.mempool).where(eq(schema.mempool.id, id)).get();
    return queued ? { tx: chainTx.parse(JSON.parse(queued.body)), pending: true } : null;
  }

  /** Any included transaction with its inclusion proof and signed block header (null while pending or unknown). */
  async transactionEvidence(id: string): Promise<{ tx: ChainTx; txId: string; proof: TxInclusionProof; block: SignedHeader } | null> {
    await this.ready();
    const row = this.db.select().from(schema.chainTxs).where(eq(schema.chainTxs.id, id)).get();
    if (!row) return null;
    const block = this.db.select().from(schema.blocks).where(eq(schema.blocks.height, row.height)).get()!;
    const txs = this.db
      .select({ body: schema.chainTxs.body })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, row.height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all()
      .map((t) => chainTx.parse(JSON.parse(t.body)));
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
    const txs = this.db
      .select({ body: schema.chainTxs.body })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, row.height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all()
      .map((t) => chainTx.parse(JSON.parse(t.body)));
    const tx = txs[row.txIndex]!;
    if (tx.type !== "anchor") throw new Error("index points at a non-anchor transaction");
    return { tx, txId: row.id, proof: txInclusionProof(txs, row.txIndex), block: this.#signed(block) };
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
      producer: this.#publicKey,
      slotSeconds: this.#timing.slotMs / 1000,
      epochSlots: this.#timing.epochSlots,
    };
  }

  #head(): SignedHeader {
    const row = this.db.select().from(schema.blocks).orderBy(desc(schema.blocks.height)).limit(1).get();
    return row ? this.#signed(row) : this.#genesis;
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

  #known(id: string): boolean {
    return (
      this.db.select({ id: schema.chainTxs.id }).from(schema.chainTxs).where(eq(schema.chainTxs.id, id)).get() !== undefined ||
      this.db.select({ id: schema.mempool.id }).from(schema.mempool).where(eq(schema.mempool.id, id)).get() !== undefined
    );
  }

  #hasFinalAnchor(sessionId: string, includeMempool: boolean): boolean {
    const onChain = this.db
      .select({ id: schema.chainTxs.id })
      .from(schema.chainTxs)
      .where(and(eq(schema.chainTxs.sessionId, sessionId), eq(schema.chainTxs.finalAnchor, true)))
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


  #weightsFor(epoch: number): ProducerWeight[] {
    const rows = this.db
      .select({ producer: schema.epochWeights.producer, weight: schema.epochWeights.weight })
      .from(schema.epochWeights)
      .where(eq(schema.epochWeights.epoch, epoch))
      .all();
    // No weights recorded for the epoch: a single-producer deployment, this instance leads every slot.
    return rows.length > 0 ? rows : [{ producer: this.#publicKey, weight: 1 }];
  }

  /** The schedule's seed: the last block hash before `epoch` began (genesis for epoch 0). */
  #seedFor(epoch: number): string {
    const row = this.db
      .select({ hash: schema.blocks.hash })
      .from(schema.blocks)
      .where(lt(schema.blocks.epoch, epoch))
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
    if (pending || this.#config.CHAIN_EMPTY_BLOCKS) candidates.push(nextSlot);
    if (notice) candidates.push(Math.max(now, notice.nextAt));
    const next = Math.min(...candidates);
    const current = fromAlarm ? null : await this.ctx.storage.getAlarm();
    // A pending alarm is kept unless it is later than needed or overdue by more than a slot
    // (then it is not going to fire on its own: the storage can report a spent alarm time).
    const keep = current !== null && current <= next && current >= now - this.#timing.slotMs;
    if (!keep) await this.ctx.storage.setAlarm(next);
  }

}

