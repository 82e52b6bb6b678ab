import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The user directory: identity and role of every user, unique by TRON address and email.
 * The role lives here (not in each UserDO) so the last-SUPER_ADMIN rule is one transaction.
 */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    tronAddress: text("tron_address").unique(),
    email: text("email").unique(),
    displayName: text("display_name"),
    role: text("role", { enum: ["USER", "NODE_OPERATOR", "ADMIN", "SUPER_ADMIN"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("users_role").on(t.role)],
);
