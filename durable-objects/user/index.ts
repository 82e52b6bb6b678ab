import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { base32nopad, base64urlnopad } from "@scure/base";
import { and, asc, eq, gt, inArray, isNull, lt, max, or } from "drizzle-orm";
import { generateTotpSecret, matchTotp } from "../../shared/totp.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export interface OpenSessionInput {
  method: "tron" | "magic-link";
  walletKind: string | null;
  secondFactor: boolean;
  ip: string | null;
  userAgent: string | null;
  ttlMs: number;
  maxSessions: number;
}

export interface SessionView {
  id: string;
  method: string;
  walletKind: string | null;
  secondFactor: boolean;
  ip: string | null;
  userAgent: string | null;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
}

export type RefreshResult =
  | { ok: true; sessionId: string; secret: string; expiresAt: number; secondFactor: boolean }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reused" };

export type SecondFactor = { code: string } | { recoveryCode: string };

const RECOVERY_CODES = 10;

/** A fresh 256-bit secret as base64url (refresh tokens, magic links). */
function randomSecret(): string {
  return base64urlnopad.encode(crypto.getRandomValues(new Uint8Array(32)));
}

/** Secrets are high-entropy, so one SHA-256 is enough to store them safely. */
function hashSecret(secret: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(secret)));
}

function normaliseRecoveryCode(code: string): string {
  return code.replace(/[\s-]/g, "").toUpperCase();
}

/**
 * One user's credentials and login sessions (addressed by idFromName(userId)): refresh-token
 * families with rotation and reuse detection, the concurrent-session limit, TOTP with
 * hashed recovery codes, and magic-link tokens (hashes only). The single writer of all of it.
 */
export class UserDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  /** Starts a session (a refresh-token family); beyond `maxSessions` the oldest are revoked. */
  async openSession(input: OpenSessionInput): Promise<{ sessionId: string; secret: string; expiresAt: number; evicted: string[] }> {
    await this.ready();
    const now = Date.now();
    const sessionId = crypto.randomUUID();
    const secret = randomSecret();
    const expiresAt = now + input.ttlMs;
    const evicted = this.ctx.storage.transactionSync(() => {
      const active = this.#activeSessions(now);
      // Strictly increasing creation times keep "oldest" well defined (workerd's clock stands still within a request).
      const newest =
        this.db
          .select({ at: max(schema.sessions.createdAt) })
          .from(schema.sessions)
          .get()?.at ?? 0;
      const createdAt = Math.max(now, newest + 1);
      const excess = active.slice(0, Math.max(0, active.length - input.maxSessions + 1));
      for (const old of excess) this.#revoke(old.id, "session-limit", now);
      this.db
        .insert(schema.sessions)
        .values({
          id: sessionId,
          method: input.method,
          walletKind: input.walletKind,
          secondFactor: input.secondFactor,
          ip: input.ip,
          userAgent: input.userAgent,
          createdAt,
          lastUsedAt: now,
          expiresAt,
        })
        .run();
      this.db
        .insert(schema.refreshTokens)
        .values({ hash: hashSecret(secret), sessionId, issuedAt: now })
        .run();
      this.#forgetOldSessions(now, input.ttlMs);
      return excess.map((s) => s.id);
    });
    return { sessionId, secret, expiresAt, evicted };
  }

  /**
   * Rotates a refresh token: the presented one is spent and a new one issued in the same
   * family. Presenting a spent token means it was stolen (or replayed): the whole family
   * is revoked, so neither the thief nor the victim can continue with it.
   */
  async refresh(secret: string, ttlMs: number): Promise<RefreshResult> {
    await this.ready();
    const now = Date.now();
    return this.ctx.storage.transactionSync((): RefreshResult => {
      const token = this.db
        .select()
        .from(schema.refreshTokens)
        .where(eq(schema.refreshTokens.hash, hashSecret(secret)))
        .get();
      if (!token) return { ok: false, reason: "unknown" };
      const session = this.db.select().from(schema.sessions).where(eq(schema.sessions.id, token.sessionId)).get();
      if (!session) return { ok: false, reason: "unknown" };
      if (token.usedAt !== null) {
        this.#revoke(session.id, "refresh-reuse", now);
        return { ok: false, reason: "reused" };
      }
      if (session.revokedAt !== null) return { ok: false, reason: "revoked" };
      if (session.expiresAt <= now) return { ok: false, reason: "expired" };
      const next = randomSecret();
      const expiresAt = now + ttlMs;
      this.db.update(schema.refreshTokens).set({ usedAt: now }).where(eq(schema.refreshTokens.hash, token.hash)).run();
      this.db
        .insert(schema.refreshTokens)
        .values({ hash: hashSecret(next), sessionId: session.id, issuedAt: now })
        .run();
      this.db.update(schema.sessions).set({ lastUsedAt: now, expiresAt }).where(eq(schema.sessions.id, session.id)).run();
      return { ok: true, sessionId: session.id, secret: next, expiresAt, secondFactor: session.secondFactor };
    });
  }

  async listSessions(): Promise<SessionView[]> {
    await this.ready();
    return this.#activeSessions(Date.now()).map(({ revokedAt: _r, revokeReason: _why, ...view }) => view);
  }

  /**
   * Whether `sessionId` is a live session of this user (not revoked, not expired) and whether
   * it passed the second factor: privileged requests ask this on every call, so revoking a
   * session takes their access tokens' powers away at once (functions/middleware/standing.ts).
   */
  async sessionStanding(sessionId: string): Promise<{ active: boolean; secondFactor: boolean }> {
    await this.ready();
    const session = this.db.select().from(schema.sessions).where(eq(schema.sessions.id, sessionId)).get();
    if (!session || session.revokedAt !== null || session.expiresAt <= Date.now()) return { active: false, secondFactor: false };
    return { active: true, secondFactor: session.secondFactor };
  }

  /** False when the session does not exist (in this user's DO) or is already over. */
  async revokeSession(sessionId: string, reason: string): Promise<boolean> {
    await this.ready();
    const now = Date.now();
    const session = this.db.select().from(schema.sessions).where(eq(schema.sessions.id, sessionId)).get();
    if (!session || session.revokedAt !== null || session.expiresAt <= now) return false;
    this.#revoke(sessionId, reason, now);
    return true;
  }

  async revokeAllSessions(reason: string): Promise<number> {
    await this.ready();
    const now = Date.now();
    const active = this.#activeSessions(now);
    for (const session of active) this.#revoke(session.id, reason, now);
    return active.length;
  }

  // ---- TOTP -------------------------------------------------------------------------------

  async totpStatus(): Promise<{ enrolled: boolean; recoveryCodesLeft: number }> {
    await this.ready();
    const row = this.db.select().from(schema.totp).where(eq(schema.totp.id, 1)).get();
    const left = this.db.select().from(schema.recoveryCodes).where(isNull(schema.recoveryCodes.usedAt)).all().length;
    return { enrolled: row?.confirmedAt != null, recoveryCodesLeft: left };
  }

  /** A new (unconfirmed) secret; refused once TOTP is confirmed, so a stolen session cannot swap it. */
  async beginTotpEnrolment(): Promise<{ ok: true; secret: string } | { ok: false; reason: "already-enrolled" }> {
    await this.ready();
    const row = this.db.select().from(schema.totp).where(eq(schema.totp.id, 1)).get();
    if (row?.confirmedAt != null) return { ok: false, reason: "already-enrolled" };
    const secret = generateTotpSecret();
    this.db
      .insert(schema.totp)
      .values({ id: 1, secret, confirmedAt: null, lastStep: -1 })
      .onConflictDoUpdate({ target: schema.totp.id, set: { secret, confirmedAt: null, lastStep: -1 } })
      .run();
    return { ok: true, secret };
  }

  /** Confirms enrolment with a first valid code; returns the one-time recovery codes (shown once). */
  async confirmTotp(
    code: string,
  ): Promise<{ ok: true; recoveryCodes: string[] } | { ok: false; reason: "not-started" | "already-enrolled" | "invalid-code" }> {
    await this.ready();
    const row = this.db.select().from(schema.totp).where(eq(schema.totp.id, 1)).get();
    if (!row) return { ok: false, reason: "not-started" };
    if (row.confirmedAt !== null) return { ok: false, reason: "already-enrolled" };
    const step = matchTotp(row.secret, code, Date.now() / 1000, row.lastStep);
    if (step === null) return { ok: false, reason: "invalid-code" };
    const recoveryCodes = this.ctx.storage.transactionSync(() => {
      this.db.update(schema.totp).set({ confirmedAt: Date.now(), lastStep: step }).where(eq(schema.totp.id, 1)).run();
      return this.#replaceRecoveryCodes();
    });
    return { ok: true, recoveryCodes };
  }

  /**
   * A fresh set of recovery codes; every earlier one (used or not) stops working. The caller has
   * just passed a current TOTP code (functions/auth/totp.ts, through the step-up check).
   */
  async regenerateRecoveryCodes(): Promise<{ ok: true; recoveryCodes: string[] } | { ok: false; reason: "not-enrolled" }> {
    await this.ready();
    const row = this.db.select().from(schema.totp).where(eq(schema.totp.id, 1)).get();
    if (!row || row.confirmedAt === null) return { ok: false, reason: "not-enrolled" };
    return { ok: true, recoveryCodes: this.ctx.storage.transactionSync(() => this.#replaceRecoveryCodes()) };
  }

  #replaceRecoveryCodes(): string[] {
    const codes = Array.from({ length: RECOVERY_CODES }, () => base32nopad.encode(crypto.getRandomValues(new Uint8Array(10))));
    this.db.delete(schema.recoveryCodes).run();
    for (const c of codes)
      this.db
        .insert(schema.recoveryCodes)
        .values({ hash: hashSecret(c) })
        .run();
    // Grouped for reading aloud/typing; the separator is ignored when checked.
    return codes.map((c) => c.match(/.{1,4}/g)!.join("-"));
  }

  /** Checks a TOTP code (each step usable once) or spends a recovery code. */
  async verifySecondFactor(
    factor: SecondFactor,
  ): Promise<{ ok: true; via: "totp" | "recovery-code" } | { ok: false; reason: "not-enrolled" | "invalid" }> {
    await this.ready();
    const row = this.db.select().from(schema.totp).where(eq(schema.totp.id, 1)).get();
    if (!row || row.confirmedAt === null) return { ok: false, reason: "not-enrolled" };
    if ("code" in factor) {
      const step = matchTotp(row.secret, factor.code, Date.now() / 1000, row.lastStep);
      if (step === null) return { ok: false, reason: "invalid" };
      this.db.update(schema.totp).set({ lastStep: step }).where(eq(schema.totp.id, 1)).run();
      return { ok: true, via: "totp" };
    }
    const hash = hashSecret(normaliseRecoveryCode(factor.recoveryCode));
    const spent = this.db
      .update(schema.recoveryCodes)
      .set({ usedAt: Date.now() })
      .where(and(eq(schema.recoveryCodes.hash, hash), isNull(schema.recoveryCodes.usedAt)))
      .returning()
      .get();
    return spent ? { ok: true, via: "recovery-code" } : { ok: false, reason: "invalid" };
  }

  // ---- magic links --------------------------------------------------------------------------

  async createMagicLink(ttlMs: number): Promise<{ secret: string; expiresAt: number }> {
    await this.ready();
    const now = Date.now();
    const secret = randomSecret();
    this.db.delete(schema.magicLinks).where(gt(schema.magicLinks.expiresAt, 0)).run(); // one live link at a time
    this.db
      .insert(schema.magicLinks)
      .values({ hash: hashSecret(secret), expiresAt: now + ttlMs })
      .run();
    return { secret, expiresAt: now + ttlMs };
  }

  /** True once for a live link; spent, expired or unknown links are false. */
  async consumeMagicLink(secret: string): Promise<boolean> {
    await this.ready();
    const now = Date.now();
    const spent = this.db
      .update(schema.magicLinks)
      .set({ usedAt: now })
      .where(and(eq(schema.magicLinks.hash, hashSecret(secret)), isNull(schema.magicLinks.usedAt), gt(schema.magicLinks.expiresAt, now)))
      .returning()
      .get();
    return spent !== undefined;
  }

  #activeSessions(now: number) {
    return this.db
      .select()
      .from(schema.sessions)
      .where(and(isNull(schema.sessions.revokedAt), gt(schema.sessions.expiresAt, now)))
      .orderBy(asc(schema.sessions.createdAt), asc(schema.sessions.id))
      .all();
  }

  /** Sessions over for longer than a refresh lifetime are deleted with their token hashes, so storage stays bounded. */
  #forgetOldSessions(now: number, ttlMs: number): void {
    const cutoff = now - ttlMs;
    const old = this.db
      .select({ id: schema.sessions.id })
      .from(schema.sessions)
      .where(or(lt(schema.sessions.expiresAt, cutoff), lt(schema.sessions.revokedAt, cutoff)))
      .all()
      .map((row) => row.id);
    if (old.length === 0) return;
    this.db.delete(schema.refreshTokens).where(inArray(schema.refreshTokens.sessionId, old)).run();
    this.db.delete(schema.sessions).where(inArray(schema.sessions.id, old)).run();
  }

  #revoke(sessionId: string, reason: string, now: number): void {
    this.db.update(schema.sessions).set({ revokedAt: now, revokeReason: reason }).where(eq(schema.sessions.id, sessionId)).run();
  }
}
