import { refuse, type Outcome } from "../../shared/outcome.ts";
import type { Db } from "./integrity.ts";
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

/** Places (or replaces the reason of) a hold; inside a transaction. */
export function placeHold(db: Db, hold: { reason: string; by: string; at: number }): void {
  db.update(schema.session).set({ holdReason: hold.reason, holdBy: hold.by, holdAt: hold.at }).run();
}

export function liftHold(db: Db): void {
  db.update(schema.session).set({ holdReason: null, holdBy: null, holdAt: null }).run();
}
