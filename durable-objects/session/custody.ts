import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import { liftHold, placeHold } from "./hold.ts";
import {
  notifyScrub,
  recordReadDamage,
  scrub,
  scrubStep,
  type DamageReport,
  type IntegrityResult,
  type IntegritySource,
} from "./integrity.ts";
import type { SessionView } from "./view.ts";

/**
 * Custody of what the session stored: legal holds (hold.ts) and tamper detection at rest
 * (integrity.ts: damage a download found, the scheduled scrub and an admin's on-demand check).
 */
export class Custody {
  constructor(private readonly s: SessionContext) {}

  /** ADMIN (the route's guard checked the role): hold the session with a reason; a repeat replaces the reason. */
  async hold(actor: Actor, reason: string): Promise<Outcome<SessionView>> {
    const s = this.s;
    const row = s.authorize(actor, "view");
    if (!row.ok) return row;
    const held = placeHold(s, row.value, actor, reason);
    if (!held.ok) return held;
    await s.syncIndex();
    return ok(s.view());
  }

  /** Lifts the hold; retention runs again (at once if the session expired meanwhile). */
  async liftHold(actor: Actor): Promise<Outcome<SessionView>> {
    const s = this.s;
    const row = s.authorize(actor, "view");
    if (!row.ok) return row;
    const lifted = liftHold(s, row.value, actor, (dueAt) => s.tasks.schedule("retention", dueAt));
    if (!lifted.ok) return lifted;
    await s.tasks.arm();
    await s.syncIndex();
    return ok(s.view());
  }

  /** A download found a stored chunk that differs from what was received: mark it, log it on the session. */
  async reportDamage(input: DamageReport): Promise<Outcome<IntegrityResult>> {
    if (!this.s.row()) return refuse("not-found", "No such session.");
    const result = recordReadDamage(this.s, input);
    if (result.ok) await this.s.syncIndex();
    return result;
  }

  /** Re-hashes every stored chunk now (POST …/integrity-check, ADMIN; the route's guard checked the role). */
  async check(actor: Actor): Promise<Outcome<IntegrityResult>> {
    const row = this.s.authorize(actor, "view");
    if (!row.ok) return row;
    if (row.value.shreddedAt !== null) return refuse("gone", "The session's chunks were deleted.");
    return ok(await this.#scrub("request", actor));
  }

  /**
   * The scheduled scrub, INTEGRITY_SCRUB_BYTES_PER_RUN at a time: each alarm run resumes at the
   * saved cursor and the next run is due at once until the pass is done; the next pass is due
   * INTEGRITY_SCRUB_INTERVAL_SECONDS after that, until the chunks are gone.
   */
  async scheduledScrub(): Promise<number | undefined> {
    const s = this.s;
    const row = s.row();
    const every = s.config.INTEGRITY_SCRUB_INTERVAL_SECONDS;
    if (!row || row.shreddedAt !== null || every === 0) return undefined;
    const step = await scrubStep(s, s.store, s.config.INTEGRITY_SCRUB_BYTES_PER_RUN);
    if (step.newlyBad.length) await notifyScrub(s.env, s.current().id, { ...step.result!, badChunks: step.newlyBad });
    if (step.result) await s.syncIndex();
    return step.done ? Date.now() + every * 1000 : Date.now();
  }

  /** Schedules the first scrub once the session is stored; inside the pipeline's transaction. */
  scheduleFirstScrub(): void {
    const every = this.s.config.INTEGRITY_SCRUB_INTERVAL_SECONDS;
    if (every > 0) this.s.tasks.schedule("scrub", Date.now() + every * 1000);
  }

  async #scrub(source: IntegritySource, actor: Actor | "system"): Promise<IntegrityResult> {
    const s = this.s;
    const result = await scrub(s, s.store, source, actor);
    await notifyScrub(s.env, s.current().id, result);
    await s.syncIndex();
    return result;
  }
}
