import { and, asc, desc, eq, lte, min } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Env } from "../../platform/env.ts";
import type { AlertsConfig, AlertView } from "../../shared/admin.ts";
import { ruleOf, signWebhook, SIGNATURE_HEADER } from "../../shared/alert-rules.ts";
import type { Config } from "../../shared/config.ts";
import { logEvent } from "../../shared/log.ts";
import { mimeText, WebhookMailer, type Mail } from "../../shared/mail.ts";
import * as schema from "./schema.ts";
import { singleton } from "../../platform/objects.ts";

export type DeliveryRow = typeof schema.alertDeliveries.$inferSelect;
export type AlertEvent = DeliveryRow["event"];

const WEBHOOK_TIMEOUT_MS = 5_000;
/** Deliveries one alarm sends at most; the rest wait for the next alarm (armed right away). */
const BATCH = 25;

/**
 * The alert outbox: every raised or resolved alert becomes one row per webhook URL and mail
 * address (from the deployment's configuration, never from a request), sent by AdminDO's alarm.
 * A failed attempt is retried after webhookBackoffSeconds × 2^(attempts−1) until
 * webhookMaxAttempts; the rows stay as the delivery log.
 */
export class AlertOutbox {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly env: Env,
    private readonly config: () => Config,
  ) {}

  /** Queues `event` of `alert` for every configured destination; returns how many rows were queued. */
  enqueue(alert: AlertView, event: AlertEvent, now = Date.now()): number {
    const c = this.config();
    const payload = JSON.stringify({
      event,
      alert: {
        ...alert,
        rule: ruleOf(alert.key),
        firstAt: iso(alert.firstAt),
        lastAt: iso(alert.lastAt),
        acknowledgedAt: iso(alert.acknowledgedAt),
        resolvedAt: iso(alert.resolvedAt),
      },
      origin: c.PUBLIC_ORIGIN,
    });
    const targets: { channel: "webhook" | "mail"; target: string }[] = [
      ...(c.ALERT_WEBHOOK_URLS ?? []).map((target) => ({ channel: "webhook" as const, target })),
      ...(c.ALERT_MAIL_TO ?? []).map((target) => ({ channel: "mail" as const, target })),
    ];
    for (const { channel, target } of targets) {
      this.db
        .insert(schema.alertDeliveries)
        .values({
          alertId: alert.id,
          alertKey: alert.key,
          event,
          channel,
          target,
          payload,
          state: "pending",
          attempts: 0,
          nextAttemptAt: now,
          createdAt: now,
        })
        .run();
    }
    return targets.length;
  }

  /** When the next pending delivery is due (null: none pending). */
  nextDue(): number | null {
    return (
      this.db
        .select({ at: min(schema.alertDeliveries.nextAttemptAt) })
        .from(schema.alertDeliveries)
        .where(eq(schema.alertDeliveries.state, "pending"))
        .get()?.at ?? null
    );
  }

  /** Sends every due delivery (up to BATCH); each outcome is written before the next is tried. */
  async deliverDue(limits: AlertsConfig, now = Date.now()): Promise<{ delivered: number; retried: number; failed: number }> {
    const due = this.db
      .select()
      .from(schema.alertDeliveries)
      .where(and(eq(schema.alertDeliveries.state, "pending"), lte(schema.alertDeliveries.nextAttemptAt, now)))
      .orderBy(asc(schema.alertDeliveries.nextAttemptAt), asc(schema.alertDeliveries.id))
      .limit(BATCH)
      .all();
    const summary = { delivered: 0, retried: 0, failed: 0 };
    for (const row of due) {
      const attempts = row.attempts + 1;
      const result = await this.#send(row).catch((error: unknown) => ({
        ok: false,
        status: null,
        error: error instanceof Error ? error.message : String(error),
      }));
      if (result.ok) {
        this.db
          .update(schema.alertDeliveries)
          .set({ state: "delivered", attempts, lastStatus: result.status, lastError: null, deliveredAt: Date.now() })
          .where(eq(schema.alertDeliveries.id, row.id))
          .run();
        summary.delivered++;
        continue;
      }
      const giveUp = attempts >= limits.webhookMaxAttempts;
      const nextAttemptAt = Date.now() + limits.webhookBackoffSeconds * 1000 * 2 ** (attempts - 1);
      this.db
        .update(schema.alertDeliveries)
        .set({
          state: giveUp ? "failed" : "pending",
          attempts,
          lastStatus: result.status,
          lastError: result.error?.slice(0, 500) ?? null,
          nextAttemptAt,
        })
        .where(eq(schema.alertDeliveries.id, row.id))
        .run();
      if (giveUp) {
        summary.failed++;
        logEvent("error", "admin.alert_delivery_failed", {
          id: row.id,
          channel: row.channel,
          alertKey: row.alertKey,
          attempts,
          error: result.error,
        });
      } else summary.retried++;
    }
    return summary;
  }

  list(filter: { alertId?: string; state?: DeliveryRow["state"]; limit: number }): DeliveryRow[] {
    return this.db
      .select()
      .from(schema.alertDeliveries)
      .where(
        and(
          filter.alertId ? eq(schema.alertDeliveries.alertId, filter.alertId) : undefined,
          filter.state ? eq(schema.alertDeliveries.state, filter.state) : undefined,
        ),
      )
      .orderBy(desc(schema.alertDeliveries.id))
      .limit(filter.limit)
      .all();
  }

  async #send(row: DeliveryRow): Promise<{ ok: boolean; status: number | null; error: string | null }> {
    const c = this.config();
    if (row.channel === "mail") {
      await sendMail(this.env, c, mailFor(row));
      return { ok: true, status: null, error: null };
    }
    if (!c.ALERT_WEBHOOK_SECRET) return { ok: false, status: null, error: "ALERT_WEBHOOK_SECRET is not set" };
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await fetch(row.target, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "Lucid-Alerts/1",
        "X-Lucid-Delivery": String(row.id),
        "X-Lucid-Event": `alert.${row.event}`,
        [SIGNATURE_HEADER]: await signWebhook(c.ALERT_WEBHOOK_SECRET, timestamp, row.payload),
      },
      body: row.payload,
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return res.ok
      ? { ok: true, status: res.status, error: null }
      : { ok: false, status: res.status, error: `the receiver answered ${res.status}` };
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function mailFor(row: DeliveryRow): Mail {
  const { alert, origin } = JSON.parse(row.payload) as { alert: AlertView & { rule: string }; origin: string };
  const verb = row.event === "raised" ? "raised" : "resolved";
  return {
    to: row.target,
    subject: `[Lucid ${alert.severity}] ${verb}: ${alert.title}`.slice(0, 200),
    text: [
      `Alert ${verb}: ${alert.title}`,
      "",
      `Severity: ${alert.severity}`,
      `Rule: ${alert.rule} (key ${alert.key}, source ${alert.source})`,
      `State: ${alert.state}, seen ${alert.count} time(s)`,
      ...(alert.detail ? ["", alert.detail] : []),
      "",
      `Alerts: ${origin}/dashboard/ (GET ${origin}/api/v1/admin/alerts)`,
    ].join("\n"),
  };
}

/**
 * The configured mailer, as functions/auth/mailer.ts chooses it (a relay webhook, else the
 * send_email binding, else the dev outbox outside production); alert mail is one more message.
 */
async function sendMail(env: Env, c: Config, mail: Mail): Promise<void> {
  if (c.MAIL_WEBHOOK_URL) return new WebhookMailer(c.MAIL_WEBHOOK_URL, c.MAIL_FROM, c.MAIL_WEBHOOK_SECRET).send(mail);
  if (env.SEND_EMAIL) {
    const { EmailMessage } = await import("cloudflare:email");
    await env.SEND_EMAIL.send(new EmailMessage(c.MAIL_FROM, mail.to, mimeText(c.MAIL_FROM, mail)));
    return;
  }
  const devOutbox = c.MAIL_DEV_OUTBOX === "true" || (c.MAIL_DEV_OUTBOX === "auto" && c.LUCID_ENV !== "production");
  if (!devOutbox) throw new Error("no mailer is configured (MAIL_WEBHOOK_URL, send_email or the dev outbox)");
  await singleton(env, "MAIL_OUTBOX").put(mail);
}
