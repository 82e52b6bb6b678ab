import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * Outstanding login challenges of this address, one row per request: several may be open at
 * once, each answered at most once (deleted when taken) and only until it expires, so asking
 * for a new one never voids another's.
 */
export const challenges = sqliteTable(
  "challenges",
  {
    id: integer("id").primaryKey(),
    nonce: text("nonce").notNull(),
    message: text("message").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [uniqueIndex("challenges_nonce").on(t.nonce), index("challenges_expires_at").on(t.expiresAt)],
);

/** Failed attempts for this key (an address or an IP) and the back-off they earned. */
export const failures = sqliteTable("failures", {
  id: integer("id").primaryKey(),
  count: integer("count").notNull(),
  lastFailureAt: integer("last_failure_at").notNull(),
  lockedUntil: integer("locked_until").notNull(),
});
