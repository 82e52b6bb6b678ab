import { sql } from "drizzle-orm";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export type ServiceStatus = "up" | "degraded" | "down";

export interface CheckResult {
  name: string;
  status: ServiceStatus;
  latencyMs: number;
  detail?: string | null;
  checkedAt: number;
}

export interface ServiceRecord extends CheckResult {
  lastUpAt: number | null;
  consecutiveFailures: number;
}

export interface MetricDelta {
  name: string;
  /** Canonical Prometheus label text, e.g. `method="GET",status="200"`. */
  labels: string;
  value: number;
}

/**
 * The system registry: latest health of every function and the Prometheus series summed
 * over every isolate. Both are small and read often, so they live in memory after start
 * and SQLite is the durable copy written through on every change.
 */
export class SystemDO extends SqlDurableObject<typeof schema> {
  #services = new Map<string, ServiceRecord>();
  #series = new Map<string, MetricDelta>();

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  protected override onStart(): void {
    for (const row of this.db.select().from(schema.serviceChecks).all()) {
      this.#services.set(row.name, { ...row, status: row.status });
    }
    for (const row of this.db.select().from(schema.metricSeries).all()) {
      this.#series.set(seriesKey(row), row);
    }
  }

  /** Stores a round of health checks and returns each function's record with its history fields. */
  async recordChecks(results: CheckResult[]): Promise<ServiceRecord[]> {
    await this.ready();
    const records = results.map((result) => {
      const previous = this.#services.get(result.name);
      const record: ServiceRecord = {
        ...result,
        detail: result.detail ?? null,
        lastUpAt: result.status === "up" ? result.checkedAt : (previous?.lastUpAt ?? null),
        consecutiveFailures: result.status === "down" ? (previous?.consecutiveFailures ?? 0) + 1 : 0,
      };
      return record;
    });
    this.ctx.storage.transactionSync(() => {
      for (const record of records) {
        this.db
          .insert(schema.serviceChecks)
          .values({ ...record, detail: record.detail ?? null })
          .onConflictDoUpdate({ target: schema.serviceChecks.name, set: { ...record, detail: record.detail ?? null } })
          .run();
      }
    });
    for (const record of records) this.#services.set(record.name, record);
    return records;
  }

  async getService(name: string): Promise<ServiceRecord | null> {
    await this.ready();
    return this.#services.get(name) ?? null;
  }

  async listServices(): Promise<ServiceRecord[]> {
    await this.ready();
    return [...this.#services.values()];
  }

  /** Adds buffered counter deltas from one isolate; idempotency is not needed because deltas are only sent once. */
  async addMetrics(deltas: MetricDelta[]): Promise<void> {
    await this.ready();
    if (deltas.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const delta of deltas) {
        this.db
          .insert(schema.metricSeries)
          .values(delta)
          .onConflictDoUpdate({
            target: [schema.metricSeries.name, schema.metricSeries.labels],
            set: { value: sql`${schema.metricSeries.value} + ${delta.value}` },
          })
          .run();
      }
    });
    for (const delta of deltas) {
      const key = seriesKey(delta);
      const current = this.#series.get(key);
      this.#series.set(key, { ...delta, value: (current?.value ?? 0) + delta.value });
    }
  }

  async getMetrics(): Promise<MetricDelta[]> {
    await this.ready();
    return [...this.#series.values()];
  }
}

function seriesKey(series: { name: string; labels: string }): string {
  return `${series.name}{${series.labels}}`;
}
