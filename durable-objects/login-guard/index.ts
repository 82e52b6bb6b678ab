import { count, eq, gt, lte, min } from "drizzle-orm";
import { SqlDurableObject } from "../base.ts";
import { wakeBy } from "../scheduler.ts";
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
 * outstanding challenges (any number, one per request) and its failed attempts; `ip:<client
 * address>`, `user:<id>`, `mail:<address>` and `step-up:<user id>` (wrong TOTP/recovery codes of
 * privileged actions) only the failures (functions/auth/guard.ts says how
 * they combine). Back-off doubles with each failure past the free ones (1 s, 2 s, 4 s …
 * up to the maximum), so guessing is slow while a user's typo costs nothing.
 */
export class LoginGuardDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  /** Adds a challenge beside any others still outstanding (asking again never voids one). */
  async putChallenge(nonce: string, message: string, expiresAt: number): Promise<void> {
    await this.ready();
    const now = Date.now();
    this.db.delete(schema.challenges).where(lte(schema.challenges.expiresAt, now)).run();
    this.db.insert(schema.challenges).values({ nonce, message, expiresAt }).run();
    await this.#scheduleCleanup(now);
  }

  /** Takes the challenge with this nonce (single use: it is deleted whatever happens next). */
  async takeChallenge(nonce: string): Promise<{ message: string; expired: boolean } | null> {
    await this.ready();
    const row = this.db.delete(schema.challenges).where(eq(schema.challenges.nonce, nonce)).returning().get();
    if (!row) return null;
    return { message: row.message, expired: row.expiresAt <= Date.now() };
  }

  /** How many challenges are outstanding and unexpired (for tests and monitoring). */
  async outstandingChallenges(): Promise<number> {
    await this.ready();
    return this.db.select({ n: count() }).from(schema.challenges).where(gt(schema.challenges.expiresAt, Date.now())).get()?.n ?? 0;
  }

  /** Failures on record (forgotten after a quiet day) and the back-off they earned. */
  async failureState(): Promise<{ failures: number; lockedUntil: number }> {
    await this.ready();
    const row = this.db.select().from(schema.failures).where(eq(schema.failures.id, 1)).get();
    if (!row || Date.now() - row.lastFailureAt >= FAILURE_MEMORY_MS) return { failures: 0, lockedUntil: 0 };
    return { failures: row.count, lockedUntil: row.lockedUntil > Date.now() ? row.lockedUntil : 0 };
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
    await this.#scheduleCleanup(now);
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
    this.db.delete(schema.challenges).where(lte(schema.challenges.expiresAt, now)).run();
    const failure = this.db.select().from(schema.failures).where(eq(schema.failures.id, 1)).get();
    if (failure && now - failure.lastFailureAt >= FAILURE_MEMORY_MS) this.db.delete(schema.failures).run();
    await this.#scheduleCleanup(now);
  }

  /** The next alarm: when the earliest outstanding challenge expires or the failures are forgotten. */
  async #scheduleCleanup(now: number): Promise<void> {
    const earliest =
      this.db
        .select({ at: min(schema.challenges.expiresAt) })
        .from(schema.challenges)
        .get()?.at ?? null;
    const failure = this.db.select().from(schema.failures).where(eq(schema.failures.id, 1)).get();
    const next = Math.min(earliest ?? Infinity, failure ? failure.lastFailureAt + FAILURE_MEMORY_MS : Infinity);
    // From alarm() the running alarm may still be reported: a past one counts as unset.
    if (Number.isFinite(next)) await wakeBy(this.ctx.storage, next, { notBefore: now + 1, replacePast: true });
  }
}
