import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { AlertInput } from "../../shared/admin.ts";
import { logEvent } from "../../shared/log.ts";
import type { Env } from "../../platform/env.ts";
import { singleton } from "../../platform/objects.ts";
import * as schema from "./schema.ts";

/**
 * Tamper detection at rest for the stores that are not a session's: the chain's stored blocks
 * (ChainDO.audit: every block from genesis against the rules a peer's block must pass) and the
 * audit log (AuditDO.verify: every hash link from the first event, and the anchored heads).
 * AdminDO's alarm runs each once INTEGRITY_SCRUB_INTERVAL_SECONDS have passed since the last
 * (the sessions' scrub schedule); a failure raises a critical alert `integrity:<target>` and is
 * recorded as an audit event `<target>.integrity_check` (outcome failure). The last result of
 * each is kept here for admins (GET /api/v1/admin/integrity).
 */
export const STORE_TARGETS = ["chain", "audit"] as const;
export type StoreTarget = (typeof STORE_TARGETS)[number];

export type StoreCheckRow = typeof schema.storeChecks.$inferSelect;

export interface StoreCheckResult {
  ok: boolean;
  checked: number;
  firstBad: number | null;
  fault: string | null;
  message: string | null;
}

type Db = DrizzleSqliteDODatabase<typeof schema>;

/** Runs one store's check where it lives. */
async function checkStore(env: Env, target: StoreTarget): Promise<StoreCheckResult> {
  if (target === "chain") {
    const result = await singleton(env, "CHAIN").audit();
    return result.ok
      ? { ok: true, checked: result.height, firstBad: null, fault: null, message: null }
      : { ok: false, checked: Math.max(result.height - 1, 0), firstBad: result.height, fault: result.fault, message: result.message };
  }
  const report = await singleton(env, "AUDIT").verify();
  if (report.ok) return { ok: true, checked: report.events, firstBad: null, fault: null, message: null };
  if (report.firstBroken) {
    const broken = report.firstBroken;
    return {
      ok: false,
      checked: report.events,
      firstBad: broken.id,
      fault: broken.reason,
      message: `audit event ${broken.id}${broken.action ? ` (${broken.action})` : ""} does not verify: ${broken.reason}; ${report.events} event(s) before it verify`,
    };
  }
  return {
    ok: false,
    checked: report.events,
    firstBad: report.anchorMismatches[0] ?? null,
    fault: "anchor-mismatch",
    message: `anchored heads no longer match the events they cover: ${report.anchorMismatches.slice(0, 20).join(", ")}`,
  };
}

export class StoreIntegrity {
  constructor(
    private readonly db: Db,
    private readonly env: Env,
    private readonly raiseAlert: (alert: AlertInput) => Promise<unknown>,
  ) {}

  list(): StoreCheckRow[] {
    return STORE_TARGETS.map(
      (target) =>
        this.db.select().from(schema.storeChecks).where(eq(schema.storeChecks.target, target)).get() ?? {
          target,
          at: null,
          source: null,
          ok: null,
          checked: null,
          firstBad: null,
          fault: null,
          message: null,
          dueAt: 0,
        },
    );
  }

  /**
   * From the alarm: runs each check whose time has come (`everySeconds` after the last; the first
   * one `everySeconds` after this object first saw the schedule). 0 turns the schedule off.
   */
  async runDue(everySeconds: number, now = Date.now()): Promise<void> {
    if (everySeconds === 0) return;
    for (const target of STORE_TARGETS) {
      const row = this.db.select().from(schema.storeChecks).where(eq(schema.storeChecks.target, target)).get();
      if (!row) {
        this.db
          .insert(schema.storeChecks)
          .values({ target, dueAt: now + everySeconds * 1000 })
          .run();
        continue;
      }
      if (row.dueAt > now) continue;
      try {
        await this.run(target, "schedule", everySeconds);
      } catch (error) {
        // The check itself could not run (the object was unreachable): try again on the next alarm.
        logEvent("error", "admin.store_check_failed", { target, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  /** Runs one check now, records it, and on a mismatch alerts and audits. */
  async run(target: StoreTarget, source: "schedule" | "request", everySeconds: number): Promise<StoreCheckRow> {
    const result = await checkStore(this.env, target);
    const at = Date.now();
    const row: StoreCheckRow = { target, at, source, ...result, dueAt: at + Math.max(everySeconds, 1) * 1000 };
    if (!result.ok) {
      logEvent("error", `${target}.integrity_failure`, { firstBad: result.firstBad, fault: result.fault });
      await this.raiseAlert({
        key: `integrity:${target}`,
        severity: "critical",
        source: "integrity",
        title:
          target === "chain"
            ? `Stored chain block ${result.firstBad} fails its check (${result.fault})`
            : `Audit log damaged at event ${result.firstBad} (${result.fault})`,
        detail: (result.message ?? "").slice(0, 1500),
      });
    }
    await singleton(this.env, "AUDIT").record({
      action: `${target}.integrity_check`,
      outcome: result.ok ? "success" : "failure",
      targetId: target === "chain" ? "lucid-chain" : "audit-log",
      details: {
        source,
        checked: result.checked,
        ...(result.ok ? {} : { firstBad: result.firstBad, fault: result.fault, message: (result.message ?? "").slice(0, 300) }),
      },
    });
    this.db.insert(schema.storeChecks).values(row).onConflictDoUpdate({ target: schema.storeChecks.target, set: row }).run();
    return row;
  }
}
