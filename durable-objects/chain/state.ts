import { and, asc, desc, eq, lt, lte, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { canonicalJson } from "../../shared/chain/canonical.ts";
import { blockHeader, type SignedHeader } from "../../shared/chain/block.ts";
import { CREDIT_LAG_EPOCHS, creditWeightOf, pootWeights, type ChainTiming, type ProducerWeight } from "../../shared/chain/schedule.ts";
import { chainTx, type ChainTx } from "../../shared/chain/transactions.ts";
import type { CandidateBlock } from "../../shared/chain/validate.ts";
import type { Config } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { chunkStoreFor } from "../../platform/chunk-store/index.ts";
import { readArchive } from "./archive.ts";
import { insertRows, presentValues } from "./bulk.ts";
import type { StoredBlock } from "./types.ts";
import * as schema from "./schema.ts";

/** A tip of the chain (or of a branch): a block and the chain's cumulative PoOT weight up to it. */
export interface Tip {
  block: SignedHeader;
  cumulativeWeight: number;
}

/** A stored chain limited to a fork point, plus the blocks of a branch being validated on top of it. */
export interface ChainView {
  maxHeight: number;
  branch: readonly CandidateBlock[];
}

/**
 * ChainDO's storage and the facts fixed at its start (configuration, timing, genesis, producer
 * key), with the reads and writes every part of the chain shares. ChainDO builds one in onStart
 * and hands it to the modules beside this file; nothing else holds it, and it keeps no mutable
 * state of its own besides the DO's SQLite.
 */
export class ChainState {
  constructor(
    readonly storage: DurableObjectStorage,
    readonly db: DrizzleSqliteDODatabase<typeof schema>,
    readonly env: Env,
    readonly config: Config,
    readonly timing: ChainTiming,
    readonly genesis: SignedHeader,
    readonly publicKey: string,
    readonly secretKey: Uint8Array,
    /** Every producer of the schedule (configured ones and this instance), sorted. */
    readonly producers: readonly string[],
  ) {}

  head(): SignedHeader {
    return this.tip().block;
  }

  /** The head with the chain's cumulative PoOT weight (fork choice compares these). */
  tip(): Tip {
    const row = this.db.select().from(schema.blocks).orderBy(desc(schema.blocks.height)).limit(1).get();
    return row ? { block: this.signed(row), cumulativeWeight: row.cumulativeWeight } : { block: this.genesis, cumulativeWeight: 0 };
  }

  /** A block of the stored chain by hash, with its cumulative weight (genesis included). */
  storedTip(hash: string): Tip | null {
    if (hash === this.genesis.hash) return { block: this.genesis, cumulativeWeight: 0 };
    const row = this.db.select().from(schema.blocks).where(eq(schema.blocks.hash, hash)).get();
    return row ? { block: this.signed(row), cumulativeWeight: row.cumulativeWeight } : null;
  }

  /** Writes a block and its transactions (inside the caller's SQLite transaction). */
  storeBlock(
    signed: SignedHeader,
    txs: readonly ChainTx[],
    encoded: readonly { id: string; body: string }[],
    weight: number,
    cumulativeWeight: number,
  ): void {
    const header = signed.header;
    const before = this.totalsThrough(header.height - 1);
    const anchors = txs.filter((tx) => tx.type === "anchor").length;
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
        cumulativeTxs: before.txs + txs.length,
        cumulativeAnchors: before.anchors + anchors,
      })
      .run();
    const rows = txs.map((tx, txIndex) => ({
      id: encoded[txIndex]!.id,
      height: header.height,
      txIndex,
      type: tx.type,
      sessionId: tx.type === "anchor" ? tx.sessionId : null,
      nodeId: tx.type === "work-credit" || tx.type === "node-event" ? tx.nodeId : tx.type === "anchor" ? tx.node : null,
      finalAnchor: tx.type === "anchor" && !tx.interim,
      body: encoded[txIndex]!.body,
    }));
    insertRows(this.storage, schema.chainTxs, ["id", "height", "txIndex", "type", "sessionId", "nodeId", "finalAnchor", "body"], rows);
  }

  /** Transactions and anchors from height 1 through `height` (zero for genesis), from that block's running totals. */
  totalsThrough(height: number): { txs: number; anchors: number } {
    if (height === 0) return { txs: 0, anchors: 0 };
    const row = this.db
      .select({ txs: schema.blocks.cumulativeTxs, anchors: schema.blocks.cumulativeAnchors })
      .from(schema.blocks)
      .where(eq(schema.blocks.height, height))
      .get();
    // Every stored block has its parent stored and its totals filled (ChainDO's start backfills old rows).
    if (!row || row.txs === null || row.anchors === null) throw new Error(`block ${height} has no running totals`);
    return { txs: row.txs, anchors: row.anchors };
  }

  /**
   * Fills the running totals of blocks stored before they existed (once, at start). Blocks get
   * their totals as they are stored from then on, so a head with totals means every block has them.
   */
  backfillTotals(): void {
    const head = this.db
      .select({ txs: schema.blocks.cumulativeTxs })
      .from(schema.blocks)
      .orderBy(desc(schema.blocks.height))
      .limit(1)
      .get();
    if (!head || head.txs !== null) return;
    this.storage.sql.exec(`
      WITH per_block AS (
        SELECT b.height,
               b.tx_count AS txs,
               (SELECT count(*) FROM chain_txs t WHERE t.height = b.height AND t.type = 'anchor') AS anchors
        FROM blocks b
      ),
      running AS (
        SELECT height, sum(txs) OVER (ORDER BY height) AS txs, sum(anchors) OVER (ORDER BY height) AS anchors FROM per_block
      )
      UPDATE blocks SET cumulative_txs = running.txs, cumulative_anchors = running.anchors
      FROM running WHERE running.height = blocks.height`);
  }

  signed(row: typeof schema.blocks.$inferSelect): SignedHeader {
    return { header: blockHeader.parse(JSON.parse(row.header)), hash: row.hash, signature: row.signature };
  }

  stored(row: typeof schema.blocks.$inferSelect): StoredBlock {
    const txIds = this.db
      .select({ id: schema.chainTxs.id })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, row.height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all()
      .map((t) => t.id);
    return { ...this.signed(row), txIds };
  }

  /** A block's transactions, from SQLite or, once pruned, from its archive object (checked against the header). */
  async blockTxs(height: number): Promise<ChainTx[]> {
    const rows = this.db
      .select({ id: schema.chainTxs.id, body: schema.chainTxs.body })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all();
    const block = this.db.select().from(schema.blocks).where(eq(schema.blocks.height, height)).get();
    if (block?.archiveKey) {
      return readArchive(
        chunkStoreFor(this.env),
        block.archiveKey,
        this.signed(block),
        rows.map((r) => r.id),
      );
    }
    return rows.map((t) => chainTx.parse(JSON.parse(t.body)));
  }

  /** Which of `ids` are included or queued already (IN lists within the bound-parameter limit). */
  knownIds(ids: readonly string[]): Set<string> {
    return new Set([...presentValues(this.storage, schema.chainTxs, "id", ids), ...presentValues(this.storage, schema.mempool, "id", ids)]);
  }

  /** Which of `sessionIds` have a final anchor included or queued. */
  sessionsWithFinalAnchor(sessionIds: readonly string[]): Set<string> {
    const finals = { text: "final_anchor = 1", params: [] };
    return new Set([
      ...presentValues(this.storage, schema.chainTxs, "sessionId", sessionIds, finals),
      ...presentValues(this.storage, schema.mempool, "sessionId", sessionIds, finals),
    ]);
  }

  /** Which of `sessionIds` have a final anchor on chain (at or below `maxHeight`). */
  finalAnchorsOnChain(sessionIds: Iterable<string>, maxHeight = Number.MAX_SAFE_INTEGER): Set<string> {
    return presentValues(this.storage, schema.chainTxs, "sessionId", [...new Set(sessionIds)], {
      text: "final_anchor = 1 AND height <= ?",
      params: [maxHeight],
    });
  }

  hasFinalAnchor(sessionId: string, includeMempool: boolean, maxHeight = Number.MAX_SAFE_INTEGER): boolean {
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
  dropFromMempoolThrough(seq: number): void {
    this.db.delete(schema.mempool).where(lte(schema.mempool.seq, seq)).run();
  }

  /**
   * The schedule's weights for `epoch`: explicit ones when set (setEpochWeights), otherwise the
   * configured producers weighted by the work credits recorded on chain CREDIT_LAG_EPOCHS earlier
   * (shared/chain/schedule.ts pootWeights). `view` limits the stored chain to a fork point and adds
   * the blocks of a branch being validated, so a branch is weighed by its own history.
   */
  weightsFor(epoch: number, view: ChainView = { maxHeight: Number.MAX_SAFE_INTEGER, branch: [] }): ProducerWeight[] {
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
        if (block.header.epoch === creditEpoch)
          credits.set(block.header.producer, (credits.get(block.header.producer) ?? 0) + creditWeightOf(block.txs));
      }
    }
    return pootWeights(this.producers, credits);
  }

  /** The schedule's seed: the last block hash before `epoch` began (genesis for epoch 0), at or below `maxHeight`. */
  seedFor(epoch: number, maxHeight = Number.MAX_SAFE_INTEGER): string {
    const row = this.db
      .select({ hash: schema.blocks.hash })
      .from(schema.blocks)
      .where(and(lt(schema.blocks.epoch, epoch), lte(schema.blocks.height, maxHeight)))
      .orderBy(desc(schema.blocks.height))
      .limit(1)
      .get();
    return row?.hash ?? this.genesis.hash;
  }
}
