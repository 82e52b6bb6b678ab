import { eq, lte, min, sql } from "drizzle-orm";
import { SqlDurableObject } from "../base.ts";
import { wakeBy } from "../scheduler.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export interface LeaseRequest {
  key: string;
  limit: number;
  windowMs: number;
  /** How many requests the caller wants to admit (it may batch them locally). */
  want: number;
}

export interface LeaseGrant {
  granted: number;
  limit: number;
  /** What is left in the window after this grant. */
  remaining: number;
  /** Epoch ms when the window ends and the quota is whole again. */
  resetAt: number;
}

/**
 * The single writer of request quotas. One instance per client key (the gateway addresses
 * it with idFromName), so clients never contend with each other. It grants *leases*: a
 * batch of admissions the calling isolate spends locally. The sum of grants in a window
 * never exceeds the limit, so the limit is exact as an upper bound however many isolates run.
 */
export class RateLimiterDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  async acquire(request: LeaseRequest): Promise<LeaseGrant> {
    await this.ready();
    const { key, limit, windowMs } = request;
    const want = Math.max(1, Math.floor(request.want));
    const now = Date.now();
    const row = this.db.select().from(schema.rateWindows).where(eq(schema.rateWindows.key, key)).get();

    let windowStart = row?.windowStart ?? now;
    let used = row?.used ?? 0;
    let currentWindowMs = row?.windowMs ?? windowMs;
    if (now >= windowStart + currentWindowMs) {
      windowStart = now;
      used = 0;
      currentWindowMs = windowMs;
    }
    const granted = Math.max(0, Math.min(want, limit - used));
    used += granted;
    const resetAt = windowStart + currentWindowMs;

    if (granted > 0 || !row) {
      this.db
        .insert(schema.rateWindows)
        .values({ key, windowStart, windowMs: currentWindowMs, used })
        .onConflictDoUpdate({ target: schema.rateWindows.key, set: { windowStart, windowMs: currentWindowMs, used } })
        .run();
      // Expired windows are deleted by the alarm so idle clients leave no storage behind.
      await wakeBy(this.ctx.storage, resetAt);
    }
    return { granted, limit, remaining: Math.max(0, limit - used), resetAt };
  }

  override async alarm(): Promise<void> {
    await this.ready();
    const now = Date.now();
    const expired = sql`${schema.rateWindows.windowStart} + ${schema.rateWindows.windowMs}`;
    this.db.delete(schema.rateWindows).where(lte(expired, now)).run();
    const next = this.db
      .select({ at: min(expired) })
      .from(schema.rateWindows)
      .get();
    if (next?.at != null) await wakeBy(this.ctx.storage, Number(next.at), { replacePast: true });
  }
}
