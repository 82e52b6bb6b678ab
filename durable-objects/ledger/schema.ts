import { customType, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { TronTransaction } from "../../shared/tron/transaction.ts";

/** Money in base units: bigint in TypeScript, INTEGER in SQLite (exact up to 2^53 units). */
const units = customType<{ data: bigint; driverData: number }>({
  dataType: () => "integer",
  toDriver(value) {
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("amount out of storable range");
    return Number(value);
  },
  fromDriver: (value) => BigInt(value),
});

/** Hot wallets hold an encrypted key; cold, multisig and hardware wallets are watch-only. */
export const wallets = sqliteTable("wallets", {
  id: text("id").primaryKey(),
  kind: text("kind", { enum: ["hot", "cold", "multisig", "hardware"] }).notNull(),
  label: text("label").notNull(),
  address: text("address").notNull(),
  /** hex(nonce ‖ AES-256-GCM ciphertext), AAD = wallet id. Only for hot wallets. */
  encryptedKey: text("encrypted_key"),
  /** multisig: JSON list of owner addresses and the signature threshold. */
  owners: text("owners"),
  threshold: integer("threshold"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  deletedAt: integer("deleted_at"),
});

export const balanceCache = sqliteTable("balance_cache", {
  address: text("address").primaryKey(),
  trx: units("trx").notNull(),
  usdt: units("usdt").notNull(),
  fetchedAt: integer("fetched_at").notNull(),
});

export const kyc = sqliteTable("kyc", {
  address: text("address").primaryKey(),
  verified: integer("verified", { mode: "boolean" }).notNull(),
  setBy: text("set_by").notNull(),
  setAt: integer("set_at").notNull(),
});

export const audit = sqliteTable("audit", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  actor: text("actor").notNull(),
  action: text("action").notNull(),
  subject: text("subject").notNull(),
  detail: text("detail").notNull(),
});

export const PAYOUT_STATES = ["requested", "approved", "signed", "broadcast", "confirmed", "failed"] as const;
export type PayoutState = (typeof PAYOUT_STATES)[number];

/**
 * One payout, a persisted state machine. The signed transaction and its txid are written
 * (state `signed`) before any broadcast; `signed`/`broadcast` rows are reconciled against the
 * chain before anything is signed again.
 */
export const payouts = sqliteTable(
  "payouts",
  {
    id: text("id").primaryKey(),
    idempotencyKey: text("idempotency_key").notNull().unique(),
    recipient: text("recipient").notNull(),
    amount: units("amount").notNull(),
    fee: units("fee").notNull(),
    /** What the recipient receives: amount − fee. */
    net: units("net").notNull(),
    source: text("source", { enum: ["node", "admin"] }).notNull(),
    requestedBy: text("requested_by").notNull(),
    /** The node whose earnings this pays (node payouts only): per-node caps count by it. */
    nodeId: text("node_id"),
    /** A node's threshold payout: approved by policy (within caps) without an admin. */
    automatic: integer("automatic", { mode: "boolean" }).notNull().default(false),
    state: text("state", { enum: PAYOUT_STATES }).notNull(),
    /** Why an automatic payout waits for an admin (outside policy limits, a refused duplicate txid …). */
    heldReason: text("held_reason"),
    approvedBy: text("approved_by"),
    walletId: text("wallet_id"),
    batchId: text("batch_id"),
    txJson: text("tx_json", { mode: "json" }).$type<TronTransaction>(),
    txid: text("txid"),
    expiration: integer("expiration"),
    attempts: integer("attempts").notNull().default(0),
    firstSignedAt: integer("first_signed_at"),
    blockNumber: integer("block_number"),
    failureReason: text("failure_reason"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("payouts_state").on(t.state),
    index("payouts_recipient").on(t.recipient),
    index("payouts_wallet").on(t.walletId),
    index("payouts_node").on(t.nodeId, t.createdAt),
    // One transaction confirms at most one payout.
    uniqueIndex("payouts_txid").on(t.txid),
  ],
);

export const payoutEvents = sqliteTable("payout_events", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  payoutId: text("payout_id").notNull(),
  fromState: text("from_state"),
  toState: text("to_state").notNull(),
  at: integer("at").notNull(),
  detail: text("detail"),
});

export const STAKE_STATES = ["freezing", "frozen", "unfreezing", "unfrozen", "withdrawing", "withdrawn", "failed"] as const;
export type StakeState = (typeof STAKE_STATES)[number];

/** A Stake 2.0 freeze; each step's transaction is stored before it is broadcast. */
export const stakes = sqliteTable("stakes", {
  id: text("id").primaryKey(),
  idempotencyKey: text("idempotency_key").notNull().unique(),
  walletId: text("wallet_id").notNull(),
  amount: units("amount").notNull(),
  resource: text("resource", { enum: ["ENERGY", "BANDWIDTH"] }).notNull(),
  state: text("state", { enum: STAKE_STATES }).notNull(),
  /** Annual reward rate in parts per million, fixed when staked. */
  rewardRatePpm: integer("reward_rate_ppm").notNull(),
  txJson: text("tx_json", { mode: "json" }).$type<TronTransaction>(),
  txid: text("txid"),
  expiration: integer("expiration"),
  frozenAt: integer("frozen_at"),
  unfreezeAfter: integer("unfreeze_after"),
  withdrawableAt: integer("withdrawable_at"),
  failureReason: text("failure_reason"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Responses of POSTs by Idempotency-Key, so a retried request is answered, not repeated. */
export const idempotency = sqliteTable("idempotency", {
  key: text("key").primaryKey(),
  requestHash: text("request_hash").notNull(),
  status: integer("status"),
  body: text("body"),
  createdAt: integer("created_at").notNull(),
});

/**
 * Memos written on TRON for other functions (the chain's epoch anchors): one transaction per key,
 * stored signed before it is broadcast, re-signed only once the previous one has expired unseen.
 */
export const tronAnchors = sqliteTable("tron_anchors", {
  key: text("key").primaryKey(),
  memo: text("memo").notNull(),
  walletId: text("wallet_id").notNull(),
  txid: text("txid").notNull(),
  txJson: text("tx_json", { mode: "json" }).$type<TronTransaction>().notNull(),
  expiration: integer("expiration").notNull(),
  state: text("state", { enum: ["signed", "broadcast", "included", "solidified"] }).notNull(),
  blockNumber: integer("block_number"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Each comparison of a hot wallet's on-chain USDT transfers with the ledger's payouts. */
export const reconciliations = sqliteTable("reconciliations", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  walletId: text("wallet_id").notNull(),
  transfers: integer("transfers").notNull(),
  payouts: integer("payouts").notNull(),
  /** The differences found; empty when the chain and the ledger agree. */
  differences: text("differences", { mode: "json" }).$type<string[]>().notNull(),
});
