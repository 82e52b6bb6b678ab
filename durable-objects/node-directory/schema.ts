import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Pools are numbered `pool-1`, `pool-2`, …; a new one opens when every pool is full. */
export const pools = sqliteTable("pools", {
  name: text("name").primaryKey(),
  number: integer("number").notNull().unique(),
  nodeCount: integer("node_count").notNull(),
  createdAt: integer("created_at").notNull(),
});

export const placements = sqliteTable(
  "placements",
  {
    nodeId: text("node_id").primaryKey(),
    pool: text("pool").notNull(),
    operatorId: text("operator_id").notNull(),
    publicKey: text("public_key").notNull().unique(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("placements_operator").on(t.operatorId)],
);
