import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Blocks by height; `header` is the canonical JSON the hash was computed over. */
export const blocks = sqliteTable("blocks", {
  height: integer("height").primaryKey(),
  hash: text("hash").notNull().unique(),
  header: text("header").notNull(),
  signature: text("signature").notNull(),
  timestamp: integer("timestamp").notNull(),
  slot: integer("slot").notNull(),
  epoch: integer("epoch").notNull(),
  producer: text("producer").notNull(),
  txCount: integer("tx_count").notNull(),
  /** The producer's PoOT weight in the block's epoch; fork choice sums it along a chain. */
  weight: integer("weight").notNull().default(1),
  /** Sum of `weight` from height 1 to this block: the chain's weight when this block is its head. */
  cumulativeWeight: integer("cumulative_weight").notNull().default(0),
  /** Sum of the PoOT weights of the work credits this block records (its producer's nodes' operational time). */
  creditWeight: integer("credit_weight").notNull().default(0),
  /**
   * Transactions and anchors from height 1 to this block, so chain stats read the head row instead
   * of counting every transaction. A reorg deletes the blocks above the fork and their totals with
   * them. Null only on blocks stored before these columns existed, until ChainDO's start fills them.
   */
  cumulativeTxs: integer("cumulative_txs"),
  cumulativeAnchors: integer("cumulative_anchors"),
  /** Set once the block's transaction bodies moved to the chunk store (pruning); the header stays here. */
  archiveKey: text("archive_key"),
});

/** Included transactions, in block order, indexed by session and node. */
export const chainTxs = sqliteTable(
  "chain_txs",
  {
    id: text("id").primaryKey(),
    height: integer("height").notNull(),
    txIndex: integer("tx_index").notNull(),
    type: text("type").notNull(),
    sessionId: text("session_id"),
    nodeId: text("node_id"),
    finalAnchor: integer("final_anchor", { mode: "boolean" }).notNull().default(false),
    /** Canonical JSON; empty once the block is archived (the body is then read from the archive object). */
    body: text("body").notNull(),
  },
  (t) => [
    index("chain_txs_block").on(t.height, t.txIndex),
    index("chain_txs_session").on(t.sessionId),
    index("chain_txs_node").on(t.nodeId),
  ],
);

/** Transactions waiting for a block, in arrival order. */
export const mempool = sqliteTable(
  "mempool",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull().unique(),
    type: text("type").notNull(),
    sessionId: text("session_id"),
    finalAnchor: integer("final_anchor", { mode: "boolean" }).notNull().default(false),
    body: text("body").notNull(),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [index("mempool_session").on(t.sessionId)],
);

/** Operational-time weight of each producer per epoch (from the nodes' PoOT). */
export const epochWeights = sqliteTable(
  "epoch_weights",
  {
    epoch: integer("epoch").notNull(),
    producer: text("producer").notNull(),
    weight: integer("weight").notNull(),
  },
  (t) => [primaryKey({ columns: [t.epoch, t.producer] })],
);

/**
 * Sessions to tell that their final anchor is in a block (outbox: written with the block in one
 * transaction, delivered after it, retried with back-off until the session has recorded it).
 */
export const anchorNotices = sqliteTable("anchor_notices", {
  txId: text("tx_id").primaryKey(),
  sessionId: text("session_id").notNull(),
  notice: text("notice").notNull(),
  attempts: integer("attempts").notNull().default(0),
  nextAt: integer("next_at").notNull(),
  lastError: text("last_error"),
});

/**
 * The chain's head at the end of each epoch, anchored on TRON through the payments function
 * (LedgerDO.anchorOnTron): the memo names chain, epoch, height and hash; the row follows the TRON
 * transaction until it is solidified.
 */
export const tronAnchors = sqliteTable("tron_anchors", {
  epoch: integer("epoch").primaryKey(),
  height: integer("height").notNull(),
  hash: text("hash").notNull(),
  state: text("state", { enum: ["pending", "signed", "broadcast", "included", "solidified"] }).notNull(),
  txid: text("txid"),
  rawDataHex: text("raw_data_hex"),
  blockNumber: integer("block_number"),
  confirmations: integer("confirmations").notNull().default(0),
  attempts: integer("attempts").notNull().default(0),
  nextAt: integer("next_at").notNull(),
  lastError: text("last_error"),
  updatedAt: integer("updated_at").notNull(),
});
