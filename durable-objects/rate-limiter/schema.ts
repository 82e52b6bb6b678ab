import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One fixed window per client key; the window starts at the client's first request. */
export const rateWindows = sqliteTable("rate_windows", {
  key: text("key").primaryKey(),
  windowStart: integer("window_start").notNull(),
  windowMs: integer("window_ms").notNull(),
  used: integer("used").notNull(),
});
