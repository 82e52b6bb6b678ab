import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { INTERACTION_POLICIES } from "../../shared/recording/events.ts";
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
    /** The session's interaction policy: typed-text tokens are searched only under `full`. */
    interaction: text("interaction", { enum: INTERACTION_POLICIES }).notNull().default("none"),
    /** The recording is gone (deleted, shredded or expired): its search terms are dropped with it. */
    shredded: integer("shredded", { mode: "boolean" }).notNull().default(false),
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

/**
 * Search terms of a session's recording (./terms.ts), one row per keyed token and chunk: the
 * HMAC-SHA256 of "title:"+word or "text:"+word under a key derived from SESSION_KEK, never the
 * word. Written only through `putTerms`, deleted when the recording is.
 */
export const terms = sqliteTable(
  "session_terms",
  {
    token: text("token").notNull(),
    sessionId: text("session_id").notNull(),
    chunkIndex: integer("chunk_index").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.token, table.sessionId, table.chunkIndex] }),
    index("session_terms_session").on(table.sessionId, table.chunkIndex),
  ],
);
