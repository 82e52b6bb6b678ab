import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Append-only audit trail. `details` is a JSON object; the admin function builds search on it. */
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
  },
  (t) => [index("audit_at").on(t.at), index("audit_actor").on(t.actorId), index("audit_action").on(t.action)],
);
