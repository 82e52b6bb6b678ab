import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** The one outstanding login challenge of this address (a new one replaces it). */
export const challenges = sqliteTable("challenges", {
  id: integer("id").primaryKey(),
  nonce: text("nonce").notNull(),
  message: text("message").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/** Failed attempts for this key (an address or an IP) and the back-off they earned. */
export const failures = sqliteTable("failures", {
  id: integer("id").primaryKey(),
  count: integer("count").notNull(),
  lastFailureAt: integer("last_failure_at").notNull(),
  lockedUntil: integer("locked_until").notNull(),
});
