import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Append-only audit trail, hash-chained (shared/audit.ts): `hash` covers the event and
 * `prev_hash`. `details`, `before` and `after` are JSON text. Rows written before the chain
 * existed get their hashes once, in id order, when the object starts.
 */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    action: text("action").notNull(),
    outcome: text("outcome", { enum: ["success", "failure"] }).notNull(),
    actorId: text("actor_id"),
    targetId: text("target_id"),
    ip: text("ip"),
    requestId: text("request_id"),
    details: text("details").notNull(),
    before: text("before"),
    after: text("after"),
    prevHash: text("prev_hash"),
    hash: text("hash"),
  },
  (t) => [
    index("audit_at").on(t.at),
    index("audit_actor").on(t.actorId),
    index("audit_action").on(t.action),
    index("audit_target").on(t.targetId),
    index("audit_request").on(t.requestId),
  ],
);

/** Heads of the log submitted to the Lucid chain (an interim anchor each), and where they landed. */
export const auditAnchors = sqliteTable("audit_anchors", {
  /** The last event id the anchored head covers. */
  eventId: integer("event_id").primaryKey(),
  head: text("head").notNull(),
  txId: text("tx_id").notNull(),
  submittedAt: integer("submitted_at").notNull(),
  blockHeight: integer("block_height"),
  blockHash: text("block_hash"),
  anchoredAt: integer("anchored_at"),
});
