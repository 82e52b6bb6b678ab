import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { ChainTx } from "../../shared/nodes/chain-tx.ts";
import type { PayoutRequest } from "../../shared/nodes/payout.ts";
import type { Report } from "../../shared/nodes/protocol.ts";

/** Money columns hold USDT base units (INTEGER; per-node sums stay far below 2^53). Times are epoch ms. */
export const nodes = sqliteTable("nodes", {
  id: text("id").primaryKey(),
  pool: text("pool").notNull(),
  operatorId: text("operator_id").notNull(),
  publicKey: text("public_key").notNull().unique(),
  payoutAddress: text("payout_address").notNull(),
  /** After a change of payout address: nothing is paid to it before this time (null: usable since registration). */
  payoutAddressUsableAt: integer("payout_address_usable_at"),
  cpuCores: integer("cpu_cores").notNull(),
  memoryMb: integer("memory_mb").notNull(),
  diskGb: integer("disk_gb").notNull(),
  bandwidthMbps: integer("bandwidth_mbps").notNull(),
  state: text("state").notNull(),
  stateChangedAt: integer("state_changed_at").notNull(),
  registeredAt: integer("registered_at").notNull(),
  lastHeartbeatAt: integer("last_heartbeat_at"),
  lastSeq: integer("last_seq").notNull().default(0),
  lastSentAt: integer("last_sent_at"),
  lastReport: text("last_report", { mode: "json" }).$type<Report>(),
  /** The single-use challenge the next heartbeat must sign (rotated by every accepted beat). */
  heartbeatChallenge: text("heartbeat_challenge"),
  operationalSecondsTotal: integer("operational_seconds_total").notNull().default(0),
  creditsTotal: integer("credits_total").notNull().default(0),
  /** Earned and not yet in a payout request. */
  accruedUnits: integer("accrued_units").notNull().default(0),
  accruedCredits: integer("accrued_credits").notNull().default(0),
  requestedUnits: integer("requested_units").notNull().default(0),
  payoutSequence: integer("payout_sequence").notNull().default(0),
});

export const nodeEvents = sqliteTable(
  "node_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    nodeId: text("node_id").notNull(),
    fromState: text("from_state"),
    toState: text("to_state").notNull(),
    reason: text("reason").notNull(),
    actor: text("actor"),
    at: integer("at").notNull(),
  },
  (t) => [index("node_events_node").on(t.nodeId, t.id)],
);

export const credentials = sqliteTable(
  "credentials",
  {
    jti: text("jti").primaryKey(),
    nodeId: text("node_id").notNull(),
    issuedAt: integer("issued_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
    revokedBy: text("revoked_by"),
  },
  (t) => [index("credentials_node").on(t.nodeId)],
);

export const heartbeats = sqliteTable(
  "heartbeats",
  {
    nodeId: text("node_id").notNull(),
    seq: integer("seq").notNull(),
    at: integer("at").notNull(),
    sentAt: integer("sent_at").notNull(),
    cpuPercent: integer("cpu_percent").notNull(),
    memoryPercent: integer("memory_percent").notNull(),
    diskPercent: integer("disk_percent").notNull(),
    networkMbps: integer("network_mbps").notNull(),
    sessionsHosted: integer("sessions_hosted").notNull(),
    bytesRecorded: integer("bytes_recorded").notNull(),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.seq] }), index("heartbeats_at").on(t.at)],
);

export const nodeEpochs = sqliteTable(
  "node_epochs",
  {
    nodeId: text("node_id").notNull(),
    epoch: integer("epoch").notNull(),
    operationalSeconds: integer("operational_seconds").notNull(),
    sessionSeconds: integer("session_seconds").notNull(),
    bytesRecorded: integer("bytes_recorded").notNull(),
    credits: integer("credits").notNull(),
    weight: integer("weight").notNull(),
    units: integer("units").notNull(),
    /**
     * `accrued`: paid into the balance and sent to the chain. `held`: the node's report and the
     * server's observation disagreed beyond the tolerance; nothing accrued until an admin
     * `released` (accrued then) or `rejected` it.
     */
    status: text("status", { enum: ["accrued", "held", "released", "rejected"] })
      .notNull()
      .default("accrued"),
    /** What the node's beats claimed (never paid): for review. */
    reportedSessionSeconds: integer("reported_session_seconds").notNull().default(0),
    reportedBytes: integer("reported_bytes").notNull().default(0),
    /** When the admin alert for a held epoch was raised (null: still to raise, retried by the alarm). */
    alertedAt: integer("alerted_at"),
    reviewedBy: text("reviewed_by"),
    reviewedAt: integer("reviewed_at"),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.epoch] }), index("node_epochs_status").on(t.status)],
);

/** Sessions the server placed on a node (functions/sessions at creation): the only sessions PoOT asks about. */
export const nodeSessions = sqliteTable(
  "node_sessions",
  {
    sessionId: text("session_id").primaryKey(),
    nodeId: text("node_id").notNull(),
    assignedAt: integer("assigned_at").notNull(),
    /** When the session stopped recording (as it reported); epochs starting later no longer ask it. */
    finishedAt: integer("finished_at"),
  },
  (t) => [index("node_sessions_node").on(t.nodeId, t.finishedAt)],
);

/** Chain transactions waiting for the chain to pull them (shared/nodes/chain-tx.ts). */
export const chainOutbox = sqliteTable("chain_outbox", {
  id: text("id").primaryKey(),
  payload: text("payload", { mode: "json" }).$type<ChainTx>().notNull(),
  createdAt: integer("created_at").notNull(),
});

/** Payout requests waiting for (or delivered to) payments (shared/nodes/payout.ts). */
export const payoutOutbox = sqliteTable(
  "payout_outbox",
  {
    idempotencyKey: text("idempotency_key").primaryKey(),
    nodeId: text("node_id").notNull(),
    amountUnits: integer("amount_units").notNull(),
    credits: integer("credits").notNull(),
    payload: text("payload", { mode: "json" }).$type<PayoutRequest>().notNull(),
    status: text("status", { enum: ["queued", "delivered", "rejected"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastError: text("last_error"),
    payoutId: text("payout_id"),
    createdAt: integer("created_at").notNull(),
    deliveredAt: integer("delivered_at"),
  },
  (t) => [index("payout_outbox_node").on(t.nodeId), index("payout_outbox_due").on(t.status, t.nextAttemptAt)],
);

export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: integer("value").notNull(),
});
