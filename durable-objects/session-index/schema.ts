import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { SESSION_STATES } from "../../shared/session.ts";

/**
 * A read model of every session for listing and search, fed by each SessionDO. The FTS5
 * table `sessions_fts` (external content over this table, kept in sync by triggers) is a
 * custom migration: drizzle-kit does not model virtual tables.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    nodeId: text("node_id").notNull(),
    title: text("title").notNull(),
    /** JSON array of strings (FTS tokenizes the words). */
    tags: text("tags").notNull(),
    notes: text("notes").notNull(),
    state: text("state", { enum: SESSION_STATES }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    version: integer("version").notNull(),
  },
  (table) => [
    index("sessions_created").on(table.createdAt, table.id),
    index("sessions_owner_created").on(table.ownerId, table.createdAt, table.id),
    index("sessions_node_created").on(table.nodeId, table.createdAt, table.id),
  ],
);

/** A session as the index keeps it (pushed by its SessionDO; `tags` is the JSON text). */
export type SessionSummary = typeof sessions.$inferSelect;
