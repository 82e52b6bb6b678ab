import { asc, eq, gte, isNotNull } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { z } from "zod";
import type { ChunkStore } from "../../platform/chunk-store/index.ts";
import type { Env } from "../../platform/env.ts";
import { hashStored } from "../../platform/chunk-store/verify.ts";
import { singleton } from "../../platform/objects.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";

/**
 * Tamper detection at rest for one session: what a failed read reports, what a scrub (the
 * `scrub` alarm task or POST …/integrity-check) finds, and the damage marks that keep a chunk
 * whose stored bytes no longer hash to the manifest from ever being served again.
 */
export type Db = DrizzleSqliteDODatabase<typeof schema>;

/** How a result was obtained: a download that found the damage, the scheduled scrub, or an admin's request. */
export const INTEGRITY_SOURCES = ["read", "scrub", "request"] as const;
export type IntegritySource = (typeof INTEGRITY_SOURCES)[number];

/** Why a stored chunk is judged damaged. */
export const DAMAGE_REASONS = ["size", "length", "digest", "missing"] as const;
export type DamageReason = (typeof DAMAGE_REASONS)[number];

export interface BadChunk {
  index: number;
  reason: DamageReason;
}

/** The session's last integrity result (the view's `lastIntegrityCheck`). */
export interface IntegrityResult {
  at: number;
  source: IntegritySource;
  ok: boolean;
  /** Chunks checked (a read checks one). */
  checked: number;
  badChunks: BadChunk[];
}

export const damageReportSchema = z
  .object({
    index: z.number().int().min(0),
    reason: z.enum(DAMAGE_REASONS),
    expected: z.union([z.number(), z.string()]),
    found: z.union([z.number(), z.string()]),
  })
  .strict();
export type DamageReport = z.infer<typeof damageReportSchema>;

/** At most this many bad chunks are listed in a result (the count is still exact in `checked`/events). */
const MAX_LISTED = 1000;

/** Marks one chunk damaged and makes a failed read the last result; inside a transaction. */
export function markReadDamage(db: Db, report: DamageReport, at: number): IntegrityResult {
  db.update(schema.chunks).set({ damagedAt: at }).where(eq(schema.chunks.index, report.index)).run();
  const result: IntegrityResult = {
    at,
    source: "read",
    ok: false,
    checked: 1,
    badChunks: [{ index: report.index, reason: report.reason }],
  };
  db.update(schema.session).set({ lastIntegrity: result }).run();
  return result;
}

/** A download's damage report: validated, the chunk marked, an `integrity-failure` event. */
export function recordReadDamage(kit: SessionContext, input: DamageReport): Outcome<IntegrityResult> {
  const report = damageReportSchema.safeParse(input);
  if (!report.success) return refuse("validation-failed", "The damage report is malformed.");
  let result: IntegrityResult;
  kit.transaction(() => {
    result = markReadDamage(kit.db, report.data, Date.now());
    kit.event("integrity-failure", "system", { source: "read", ...report.data });
  });
  return ok(result!);
}

/** Scrubs every chunk and records the result with its event (`integrity-check` or `integrity-failure`). */
export async function scrub(
  kit: SessionContext,
  store: ChunkStore,
  source: IntegritySource,
  actor: Actor | "system",
): Promise<IntegrityResult> {
  const found = await scrubChunks(kit.db, store);
  let result: IntegrityResult;
  kit.transaction(() => {
    result = recordScrub(kit.db, found, source, Date.now());
    kit.event(result.ok ? "integrity-check" : "integrity-failure", actor, { source, checked: result.checked, badChunks: result.badChunks });
  });
  return result!;
}

/**
 * Where the scheduled scrub stands (the session row's `scrubCursor`): it checks a bounded number of
 * bytes per alarm run and saves this after each, so a restart or an eviction resumes at `next`
 * instead of starting over, and a long recording never needs one long alarm.
 */
export interface ScrubCursor {
  startedAt: number;
  next: number;
  checked: number;
  badChunks: BadChunk[];
  /** Alarm runs this pass has taken so far. */
  runs: number;
}

/**
 * One alarm run of the scheduled scrub: checks from the saved cursor up to `budgetBytes`, marks
 * what it found, and either saves the cursor (more to do: returns `done: false`) or records the
 * whole pass as the session's last result with its event. Damage is recorded (and returned in
 * `newlyBad`) by the run that finds it, not only at the end of the pass.
 */
export async function scrubStep(
  kit: SessionContext,
  store: ChunkStore,
  budgetBytes: number,
): Promise<{ done: boolean; result: IntegrityResult | null; newlyBad: BadChunk[]; checked: number }> {
  const at = Date.now();
  const cursor: ScrubCursor = kit.row()?.scrubCursor ?? { startedAt: at, next: 0, checked: 0, badChunks: [], runs: 0 };
  const part = await scrubChunks(kit.db, store, cursor.next, budgetBytes);
  const badChunks = [...cursor.badChunks, ...part.badChunks].slice(0, MAX_LISTED);
  const checked = cursor.checked + part.checked;
  const runs = cursor.runs + 1;
  let result = null as IntegrityResult | null;
  kit.transaction(() => {
    markScrubbed(kit.db, part, cursor.next, at);
    if (part.next === null) {
      const whole: IntegrityResult = { at, source: "scrub", ok: badChunks.length === 0, checked, badChunks };
      result = whole;
      kit.db.update(schema.session).set({ lastIntegrity: whole, scrubCursor: null }).run();
      kit.event(whole.ok ? "integrity-check" : "integrity-failure", "system", { source: "scrub", checked, badChunks, runs });
      return;
    }
    const saved: ScrubCursor = { startedAt: cursor.startedAt, next: part.next, checked, badChunks, runs };
    kit.db.update(schema.session).set({ scrubCursor: saved }).run();
    if (part.badChunks.length) {
      // Damage shows at once, not only when the pass ends.
      result = { at, source: "scrub", ok: false, checked, badChunks };
      kit.db.update(schema.session).set({ lastIntegrity: result }).run();
      kit.event("integrity-failure", "system", { source: "scrub", checked, badChunks: part.badChunks, partial: true });
    }
  });
  return { done: part.next === null, result, newlyBad: part.badChunks, checked: part.checked };
}

/** Indices of chunks marked damaged. */
export function damagedIndices(db: Db): number[] {
  return db
    .select({ index: schema.chunks.index })
    .from(schema.chunks)
    .where(isNotNull(schema.chunks.damagedAt))
    .orderBy(asc(schema.chunks.index))
    .all()
    .map((r) => r.index);
}

/** What one pass over part of the chunks found; `next` is the first index left unchecked (null: none left). */
export interface ScrubPart {
  checked: number;
  badChunks: BadChunk[];
  next: number | null;
}

/**
 * Re-hashes stored chunks against the SHA-256 the session recorded when it received them (the
 * manifest's leaves), in index order from `from`, stopping after the chunk that brings the bytes
 * read to `budgetBytes` (at least one chunk a pass). Reads one chunk at a time, streaming: memory
 * stays at one piece.
 */
export async function scrubChunks(db: Db, store: ChunkStore, from = 0, budgetBytes = Infinity): Promise<ScrubPart> {
  const rows = db
    .select({ index: schema.chunks.index, sha256: schema.chunks.sha256, size: schema.chunks.size, storeKey: schema.chunks.storeKey })
    .from(schema.chunks)
    .where(gte(schema.chunks.index, from))
    .orderBy(asc(schema.chunks.index))
    .all();
  const badChunks: BadChunk[] = [];
  let checked = 0;
  let bytes = 0;
  for (const row of rows) {
    if (bytes >= budgetBytes) return { checked, badChunks, next: row.index };
    const object = await store.get(row.storeKey);
    let reason: DamageReason | null = null;
    if (!object) reason = "missing";
    else if (object.size !== row.size) {
      await object.body.cancel();
      reason = "size";
    } else {
      const { sha256, size } = await hashStored(object.body);
      if (size !== row.size) reason = "length";
      else if (sha256 !== row.sha256) reason = "digest";
    }
    checked++;
    bytes += row.size;
    if (reason && badChunks.length < MAX_LISTED) badChunks.push({ index: row.index, reason });
  }
  return { checked, badChunks, next: null };
}

/**
 * Marks the damaged chunks a pass found; chunks of the pass's range (`from` up to `next`) found
 * intact again (restored from a backup, say) lose their mark. Inside a transaction.
 */
export function markScrubbed(db: Db, part: ScrubPart, from: number, at: number): void {
  const bad = new Set(part.badChunks.map((b) => b.index));
  for (const index of damagedIndices(db)) {
    const inRange = index >= from && (part.next === null || index < part.next);
    if (inRange && !bad.has(index)) db.update(schema.chunks).set({ damagedAt: null }).where(eq(schema.chunks.index, index)).run();
  }
  for (const index of bad) db.update(schema.chunks).set({ damagedAt: at }).where(eq(schema.chunks.index, index)).run();
}

/** Records a whole scrub's result (every chunk checked) as the session's last; inside a transaction. */
export function recordScrub(db: Db, found: ScrubPart, source: IntegritySource, at: number): IntegrityResult {
  markScrubbed(db, found, 0, at);
  const result: IntegrityResult = { at, source, ok: found.badChunks.length === 0, checked: found.checked, badChunks: found.badChunks };
  db.update(schema.session).set({ lastIntegrity: result }).run();
  return result;
}

/** Alert keys allow [A-Za-z0-9._:/-]. */
export function integrityAlertKey(sessionId: string): string {
  return `integrity:session:${sessionId.replace(/[^A-Za-z0-9.:/-]/g, "-")}`;
}

export function describeBad(badChunks: BadChunk[]): string {
  const shown = badChunks
    .slice(0, 20)
    .map((b) => `${b.index} (${b.reason})`)
    .join(", ");
  return badChunks.length > 20 ? `${shown}, … ${badChunks.length - 20} more` : shown;
}

/**
 * Tells the admins about damage a scrub or a requested check found: an audit entry
 * `sessions.integrity_check` (outcome failure) and a critical alert. Throws when either
 * cannot be written, so the scheduled scrub retries rather than losing the finding.
 */
export async function notifyScrub(env: Env, sessionId: string, result: IntegrityResult): Promise<void> {
  if (result.ok) return;
  await singleton(env, "AUDIT").record({
    action: "sessions.integrity_check",
    outcome: "failure",
    targetId: sessionId,
    details: { source: result.source, checked: result.checked, bad: result.badChunks.length, badChunks: describeBad(result.badChunks) },
  });
  {
    await singleton(env, "ADMIN").raiseAlert({
      key: integrityAlertKey(sessionId),
      severity: "critical",
      source: "integrity",
      title: `Stored recording damaged: session ${sessionId}`,
      detail: `${result.badChunks.length} of ${result.checked} chunk(s) no longer match the manifest: ${describeBad(result.badChunks)}. They are not served; restore them from a backup and run POST /api/v1/sessions/${sessionId}/integrity-check.`,
    });
  }
}
