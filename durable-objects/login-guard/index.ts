import { eq } from "drizzle-orm";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export interface BackoffPolicy {
  /** Failures allowed before back-off starts. */
  freeFailures: number;
  maxSeconds: number;
  /** The first back-off (doubling from there); 1 s when absent, as logins use it. */
  baseSeconds?: number;
}

/** Failures are forgotten after a quiet day. */
const FAILURE_MEMORY_MS = 24 * 3600 * 1000;

/**
 * Login state of one key, addressed by idFromName: `addr:<TRON address>` holds that address's
 * outstanding challenge and its failed attempts; `ip:<client address>`, `email:<address>` and
 * `step-up:<user id>` (wrong TOTP/recovery codes of privileged actions) only the failures. Back-off doubles with each failure past the free ones (1 s, 2 s, 4 s …
 * up to the maximum), so guessing is slow while a user's typo costs nothing.
 */
export class LoginGuardDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  /** Replaces any outstanding challenge: only the latest one can be answered. */
  async putChallenge(nonce: string, message: string, expiresAt: number): Promise<void> {
    await this.ready();
    this.db
      .insert(schema.challenges)
      .values({ id: 1, nonce, message, expiresAt })
      .onConflictDoUpdate({ target: schema.challenges.id, set: { nonce, message, expiresAt } })
      .run();
    await this.ctx.storage.setAlarm(expiresAt);
  }

  /** Takes the outstanding challenge (single use: it is deleted whatever happens next). */
  async takeChallenge(): Promise<{ nonce: string; message: string; expired: boolean } | null> {
    await this.ready();
    const row = this.db.select().from(schema.challenges).where(eq(schema.challenges.id, 1)).get();
    if (!row) return null;
    this.db.delete(schema.challenges).run();
    return { nonce: row.nonce, message: row.message, expired: row.expiresAt <= Date.now() };
  }

  /** Epoch ms until which attempts are refused, or 0. */
  async lockedUntil(): Promise<number> {
    await this.ready();
    const row = this.db.select().from(schema.failures).where(eq(schema.failures.id, 1)).get();
    return row && row.lockedUntil > Date.now() ? row.lockedUntil : 0;
  }

  async recordFailure(policy: BackoffPolicy): Promise<{ failures: number; lockedUntil: number }> {
    await this.ready();
    const now = Date.now();
    const row = this.db.select().from(schema.failures).where(eq(schema.failures.id, 1)).get();
    const failures = row && now - row.lastFailureAt < FAILURE_MEMORY_MS ? row.count + 1 : 1;
    const over = failures - policy.freeFailures;
    const lockedUntil = over > 0 ? now + Math.min(policy.maxSeconds, (policy.baseSeconds ?? 1) * 2 ** Math.min(over - 1, 30)) * 1000 : 0;
    this.db
      .insert(schema.failures)
      .values({ id: 1, count: failures, lastFailureAt: now, lockedUntil })
      .onConflictDoUpdate({ target: schema.failures.id, set: { count: failures, lastFailureAt: now, lockedUntil } })
      .run();
    await this.ctx.storage.setAlarm(now + FAILURE_MEMORY_MS);
    return { failures, lockedUntil };
  }

  async recordSuccess(): Promise<void> {
    await this.ready();
    this.db.delete(schema.failures).run();
  }

  /** Cleans up: an idle key leaves no rows behind. */
  override async alarm(): Promise<void> {
    await this.ready();
    const now = Date.now();
    const challenge = this.db.select().from(schema.challenges).where(eq(schema.challenges.id, 1)).get();
    if (challenge && challenge.expiresAt <= now) this.db.delete(schema.challenges).run();
    const failure = this.db.select().from(schema.failures).where(eq(schema.failures.id, 1)).get();
    if (failure && now - failure.lastFailureAt >= FAILURE_MEMORY_MS) this.db.delete(schema.failures).run();
    const next = Math.min(
      challenge && challenge.expiresAt > now ? challenge.expiresAt : Infinity,
      failure && now - failure.lastFailureAt < FAILURE_MEMORY_MS ? failure.lastFailureAt + FAILURE_MEMORY_MS : Infinity,
    );
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
  }
}
