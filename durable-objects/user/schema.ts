import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One login session = one refresh-token family. Revoking it ends every token of the family. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    method: text("method", { enum: ["tron", "magic-link"] }).notNull(),
    walletKind: text("wallet_kind"),
    /** Whether the login passed TOTP; ADMIN+ powers are granted only to such sessions. */
    secondFactor: integer("second_factor", { mode: "boolean" }).notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
    revokeReason: text("revoke_reason"),
  },
  (t) => [index("sessions_created").on(t.createdAt)],
);

/** Every refresh token ever issued, by SHA-256 of its secret; `usedAt` set once rotated. */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    hash: text("hash").primaryKey(),
    sessionId: text("session_id").notNull(),
    issuedAt: integer("issued_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [index("refresh_tokens_session").on(t.sessionId)],
);

/** At most one row (id = 1). `confirmedAt` null while enrolment awaits its first code. */
export const totp = sqliteTable("totp", {
  id: integer("id").primaryKey(),
  secret: text("secret").notNull(),
  confirmedAt: integer("confirmed_at"),
  /** The last accepted 30-second step: a code for it or an earlier step is a replay. */
  lastStep: integer("last_step").notNull(),
});

export const recoveryCodes = sqliteTable("recovery_codes", {
  hash: text("hash").primaryKey(),
  usedAt: integer("used_at"),
});

/** Magic-link tokens by SHA-256 only; single use. */
export const magicLinks = sqliteTable("magic_links", {
  hash: text("hash").primaryKey(),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
});
