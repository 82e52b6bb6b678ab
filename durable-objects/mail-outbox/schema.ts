import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Development outbox: mail the dev mailer "sent" (npm start has no mail relay). */
export const outbox = sqliteTable("outbox", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  to: text("to").notNull(),
  subject: text("subject").notNull(),
  text: text("text").notNull(),
});
