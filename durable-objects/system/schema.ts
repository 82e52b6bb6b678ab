import { integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Latest health-check result of each registered function (the seed's 27 checks, as one registry). */
export const serviceChecks = sqliteTable("service_checks", {
  name: text("name").primaryKey(),
  status: text("status", { enum: ["up", "degraded", "down"] }).notNull(),
  latencyMs: real("latency_ms").notNull(),
  detail: text("detail"),
  checkedAt: integer("checked_at").notNull(),
  lastUpAt: integer("last_up_at"),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
});

/** Prometheus series aggregated from every isolate's buffered deltas (counters and histogram buckets). */
export const metricSeries = sqliteTable(
  "metric_series",
  {
    name: text("name").notNull(),
    labels: text("labels").notNull(),
    value: real("value").notNull(),
  },
  (table) => [primaryKey({ columns: [table.name, table.labels] })],
);
