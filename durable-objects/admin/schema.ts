import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One row per emergency control (lockdown, recordings_halted, sessions_shutdown); absent = off. */
export const emergencyControls = sqliteTable("emergency_controls", {
  control: text("control").primaryKey(),
  active: integer("active", { mode: "boolean" }).notNull(),
  reason: text("reason"),
  changedBy: text("changed_by"),
  changedAt: integer("changed_at"),
});

/** Every version of the runtime system configuration (shared/admin.ts); the highest is current. */
export const configVersions = sqliteTable("config_versions", {
  version: integer("version").primaryKey(),
  /** As written; read through systemConfigSchema, which gives settings added since their defaults. */
  config: text("config", { mode: "json" }).$type<unknown>().notNull(),
  createdBy: text("created_by").notNull(),
  createdAt: integer("created_at").notNull(),
  reason: text("reason").notNull(),
  rollbackOf: integer("rollback_of"),
});

export const alerts = sqliteTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    key: text("key").notNull(),
    severity: text("severity", { enum: ["info", "warning", "critical"] }).notNull(),
    source: text("source").notNull(),
    title: text("title").notNull(),
    detail: text("detail"),
    state: text("state", { enum: ["open", "acknowledged", "resolved"] }).notNull(),
    count: integer("count").notNull(),
    firstAt: integer("first_at").notNull(),
    lastAt: integer("last_at").notNull(),
    acknowledgedBy: text("acknowledged_by"),
    acknowledgedAt: integer("acknowledged_at"),
    resolvedBy: text("resolved_by"),
    resolvedAt: integer("resolved_at"),
  },
  (t) => [index("alerts_key_state").on(t.key, t.state), index("alerts_last").on(t.lastAt)],
);

/** Consecutive failed health checks per function (reset by a healthy one). */
export const healthStreaks = sqliteTable("health_streaks", {
  name: text("name").primaryKey(),
  failures: integer("failures").notNull(),
});

export const notifications = sqliteTable("notifications", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  audience: text("audience", { enum: ["all", "clients", "agents"] }).notNull(),
  severity: text("severity", { enum: ["info", "warning", "critical"] }).notNull(),
  title: text("title").notNull(),
  body: text("body").notNull(),
  sentBy: text("sent_by").notNull(),
  retractedAt: integer("retracted_at"),
  retractedBy: text("retracted_by"),
});

/**
 * The alert delivery outbox: one row per alert event (raised, resolved) and destination (a
 * webhook URL or a mail address), sent by AdminDO's alarm with exponential back-off. Kept as the
 * delivery log (GET /api/v1/admin/alerts/deliveries).
 */
export const alertDeliveries = sqliteTable(
  "alert_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    alertId: text("alert_id").notNull(),
    alertKey: text("alert_key").notNull(),
    event: text("event", { enum: ["raised", "resolved"] }).notNull(),
    channel: text("channel", { enum: ["webhook", "mail"] }).notNull(),
    target: text("target").notNull(),
    payload: text("payload").notNull(),
    state: text("state", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    deliveredAt: integer("delivered_at"),
  },
  (t) => [index("alert_deliveries_due").on(t.state, t.nextAttemptAt), index("alert_deliveries_alert").on(t.alertId)],
);

/**
 * The last re-verification of a store that is not a session's (./integrity.ts): the chain's
 * stored blocks and the audit log's hash chain, one row each, and when the next one is due.
 */
export const storeChecks = sqliteTable("store_checks", {
  target: text("target", { enum: ["chain", "audit"] }).primaryKey(),
  at: integer("at"),
  source: text("source", { enum: ["schedule", "request"] }),
  ok: integer("ok", { mode: "boolean" }),
  /** Blocks (the chain: the last height checked) or events (the audit log) that verified. */
  checked: integer("checked"),
  /** The first bad block height or audit event id, when the check failed. */
  firstBad: integer("first_bad"),
  fault: text("fault"),
  message: text("message"),
  dueAt: integer("due_at").notNull(),
});
