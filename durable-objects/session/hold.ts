import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { actorLabel, type Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";
import type { SessionRow } from "./view.ts";

/**
 * Legal hold: an ADMIN freezes a session's evidence (with a reason). While held, retention
 * skips the session and crypto-shredding (delete, retention) is refused; lifting the hold
 * re-arms retention. Both are audited by the route and logged as session events.
 */
export const HOLD_REASON_MAX = 500;

export function isHeld(row: SessionRow): boolean {
  return row.holdReason !== null;
}

/** The 409 every destroying action answers while the session is held. */
export function heldProblem(row: SessionRow): Outcome<never> {
  return refuse("legal-hold", "The session is under legal hold; its chunks and data key cannot be destroyed until the hold is lifted.", {
    reason: row.holdReason,
    since: row.holdAt === null ? null : new Date(row.holdAt).toISOString(),
  });
}

/** Places (or replaces the reason of) a hold, with its event. */
export function placeHold(kit: SessionContext, row: SessionRow, actor: Actor, reason: string): Outcome<void> {
  const text = reason.trim();
  if (text.length === 0 || text.length > HOLD_REASON_MAX)
    return refuse("validation-failed", `The reason must have 1 to ${HOLD_REASON_MAX} characters.`);
  if (row.shreddedAt !== null) return refuse("gone", "The session's chunks and data key were already destroyed.");
  kit.transaction(() => {
    kit.db
      .update(schema.session)
      .set({ holdReason: text, holdBy: actorLabel(actor), holdAt: Date.now() })
      .run();
    kit.event("legal-hold", actor, { reason: text });
  });
  return ok(undefined);
}

/** Lifts the hold, with its event, and hands retention back to `reschedule` (its due time). */
export function liftHold(kit: SessionContext, row: SessionRow, actor: Actor, reschedule: (dueAt: number) => void): Outcome<void> {
  if (!isHeld(row)) return refuse("conflict", "The session is not under legal hold.");
  kit.transaction(() => {
    kit.db.update(schema.session).set({ holdReason: null, holdBy: null, holdAt: null }).run();
    kit.event("legal-hold-lifted", actor, { reason: row.holdReason, heldSince: row.holdAt });
    if (row.shreddedAt === null) reschedule(Math.max(row.expiresAt, Date.now()));
  });
  return ok(undefined);
}
