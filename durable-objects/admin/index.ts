import { and, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, ne, sql } from "drizzle-orm";
import {
  alertInputSchema,
  DEFAULT_SYSTEM_CONFIG,
  EMERGENCY_CONTROLS,
  systemConfigSchema,
  type AlertInput,
  type AlertView,
  type EmergencyControl,
  type EmergencyFlag,
  type EmergencySnapshot,
  type NotificationAudience,
  type BroadcastMessage,
  type HelloMessage,
  type NotificationMessage,
  type SystemConfig,
} from "../../shared/admin.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { ALERT_RULES, ruleOf, type AlertRule } from "../../shared/alert-rules.ts";
import { loadConfig } from "../../shared/config.ts";
import { logEvent } from "../../shared/log.ts";
import type { Env } from "../../platform/env.ts";
import { SqlDurableObject } from "../base.ts";
import { wakeBy } from "../scheduler.ts";
import { AlertOutbox, type DeliveryRow } from "./delivery.ts";
import { coveredBy, evaluateConditions, lockdownCondition, type Condition } from "./monitor.ts";
import { StoreIntegrity, type StoreCheckRow, type StoreTarget } from "./integrity.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export interface ConfigVersionView {
  version: number;
  config: SystemConfig;
  createdBy: string;
  createdAt: number;
  reason: string;
  rollbackOf: number | null;
}

/** Who is listening on the notification stream; kept in the socket's tags (hibernation-safe). */
export type Listener = "client" | "agent";

const OFF: EmergencyFlag = { active: false, reason: null, changedBy: null, changedAt: null };

/**
 * The administration state (one instance, named "admin"): emergency controls, the versioned
 * runtime configuration, alerts (raised by functions and health checks) and broadcast
 * notifications with their WebSocket listeners. The single writer of all of it.
 */
export class AdminDO extends SqlDurableObject<typeof schema, Env> {
  readonly #outbox: AlertOutbox;
  readonly #stores: StoreIntegrity;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
    this.#outbox = new AlertOutbox(this.db, env, () => loadConfig(env));
    this.#stores = new StoreIntegrity(this.db, env, (alert) => this.raiseAlert(alert));
  }

  protected override async onStart(): Promise<void> {
    // The monitor runs on its own: every evaluateEverySeconds, and whenever a delivery is due.
    if ((await this.ctx.storage.getAlarm()) === null)
      await this.ctx.storage.setAlarm(Date.now() + this.#config().config.alerts.evaluateEverySeconds * 1000);
  }

  // ---- emergency controls ------------------------------------------------------------------

  async emergency(): Promise<EmergencySnapshot> {
    await this.ready();
    return this.#emergency();
  }

  #emergency(): EmergencySnapshot {
    const rows = this.db.select().from(schema.emergencyControls).all();
    const flag = (control: EmergencyControl): EmergencyFlag => {
      const row = rows.find((r) => r.control === control);
      return row ? { active: row.active, reason: row.reason, changedBy: row.changedBy, changedAt: row.changedAt } : OFF;
    };
    return {
      lockdown: flag("lockdown"),
      recordings_halted: flag("recordings_halted"),
      sessions_shutdown: flag("sessions_shutdown"),
      lockdownMessage: this.#config().config.lockdownMessage,
    };
  }

  /** Turns a control on or off; returns the flag before and after (for the audit record). */
  async setEmergency(
    control: EmergencyControl,
    active: boolean,
    actor: string,
    reason: string,
  ): Promise<{ before: EmergencyFlag; after: EmergencyFlag }> {
    await this.ready();
    if (!EMERGENCY_CONTROLS.includes(control)) throw new Error(`unknown control ${control}`);
    const before = this.#emergency()[control];
    const after = { active, reason, changedBy: actor, changedAt: Date.now() };
    this.db
      .insert(schema.emergencyControls)
      .values({ control, ...after })
      .onConflictDoUpdate({ target: schema.emergencyControls.control, set: after })
      .run();
    this.#send("all", {
      type: "emergency",
      id: 0,
      at: new Date(after.changedAt).toISOString(),
      audience: "all",
      severity: active ? "critical" : "info",
      title: `${control.replace("_", " ")} ${active ? "on" : "off"}`,
      body: reason,
      control,
      active,
    });
    if (control === "lockdown") {
      if (active) await this.raiseAlert(lockdownCondition(reason));
      else await this.#resolveWhere((key) => key === "emergency:lockdown", actor);
    }
    return { before, after };
  }

  // ---- configuration -----------------------------------------------------------------------

  #config(): ConfigVersionView {
    const row = this.db.select().from(schema.configVersions).orderBy(desc(schema.configVersions.version)).limit(1).get();
    if (!row) return { version: 0, config: DEFAULT_SYSTEM_CONFIG, createdBy: "system", createdAt: 0, reason: "defaults", rollbackOf: null };
    return { ...row, config: systemConfigSchema.parse(row.config) };
  }

  async config(): Promise<ConfigVersionView> {
    await this.ready();
    return this.#config();
  }

  async configVersions(limit: number): Promise<ConfigVersionView[]> {
    await this.ready();
    const rows = this.db.select().from(schema.configVersions).orderBy(desc(schema.configVersions.version)).limit(limit).all();
    return rows.map((row) => ({ ...row, config: systemConfigSchema.parse(row.config) }));
  }

  /** One version (0 = the built-in defaults), or null when there is no such version. */
  async configVersion(version: number): Promise<ConfigVersionView | null> {
    await this.ready();
    if (version === 0)
      return { version: 0, config: DEFAULT_SYSTEM_CONFIG, createdBy: "system", createdAt: 0, reason: "defaults", rollbackOf: null };
    const row = this.db.select().from(schema.configVersions).where(eq(schema.configVersions.version, version)).get();
    return row ? { ...row, config: systemConfigSchema.parse(row.config) } : null;
  }

  /**
   * A new version; `expectedVersion` must be the current one (optimistic concurrency: two
   * admins editing at once cannot overwrite each other silently).
   */
  async updateConfig(
    input: unknown,
    expectedVersion: number,
    actor: string,
    reason: string,
  ): Promise<Outcome<{ before: ConfigVersionView; after: ConfigVersionView }>> {
    await this.ready();
    const parsed = systemConfigSchema.safeParse(input);
    if (!parsed.success) {
      const first = parsed.error.issues[0]!;
      return refuse("validation-failed", `The configuration is invalid: ${["config", ...first.path].join(".")} ${first.message}.`);
    }
    return this.#write(parsed.data, expectedVersion, actor, reason, null);
  }

  /** A new version whose content is version `target`'s. */
  async rollbackConfig(
    target: number,
    expectedVersion: number,
    actor: string,
    reason: string,
  ): Promise<Outcome<{ before: ConfigVersionView; after: ConfigVersionView }>> {
    await this.ready();
    const row = this.db.select().from(schema.configVersions).where(eq(schema.configVersions.version, target)).get();
    const config = target === 0 ? DEFAULT_SYSTEM_CONFIG : row ? systemConfigSchema.parse(row.config) : null;
    if (!config) return refuse("not-found", `No configuration version ${target}.`);
    return this.#write(config, expectedVersion, actor, reason, target);
  }

  #write(
    config: SystemConfig,
    expectedVersion: number,
    actor: string,
    reason: string,
    rollbackOf: number | null,
  ): Outcome<{ before: ConfigVersionView; after: ConfigVersionView }> {
    return this.ctx.storage.transactionSync(() => {
      const before = this.#config();
      if (before.version !== expectedVersion) {
        return refuse("conflict", `The configuration is at version ${before.version}, not ${expectedVersion}; reload and retry.`, {
          currentVersion: before.version,
        });
      }
      const after = { version: before.version + 1, config, createdBy: actor, createdAt: Date.now(), reason, rollbackOf };
      this.db.insert(schema.configVersions).values(after).run();
      return ok({ before, after });
    });
  }

  // ---- alerts ------------------------------------------------------------------------------

  /** Opens an alert, or counts a repeat of one still open/acknowledged with the same key. */
  async raiseAlert(input: AlertInput): Promise<{ alert: AlertView; created: boolean }> {
    await this.ready();
    const alert = alertInputSchema.parse(input);
    const now = Date.now();
    const result = this.ctx.storage.transactionSync(() => {
      const open = this.db
        .select()
        .from(schema.alerts)
        .where(and(eq(schema.alerts.key, alert.key), ne(schema.alerts.state, "resolved")))
        .get();
      if (open) {
        const updated = {
          count: open.count + 1,
          lastAt: now,
          severity: alert.severity,
          title: alert.title,
          detail: alert.detail ?? open.detail,
        };
        this.db.update(schema.alerts).set(updated).where(eq(schema.alerts.id, open.id)).run();
        return { alert: { ...open, ...updated }, created: false };
      }
      const row: AlertView = {
        id: crypto.randomUUID(),
        ...alert,
        detail: alert.detail ?? null,
        state: "open",
        count: 1,
        firstAt: now,
        lastAt: now,
        acknowledgedBy: null,
        acknowledgedAt: null,
        resolvedBy: null,
        resolvedAt: null,
      };
      this.db.insert(schema.alerts).values(row).run();
      this.#outbox.enqueue(row, "raised", now);
      return { alert: row, created: true };
    });
    if (result.created) {
      logEvent("warn", "admin.alert_raised", { key: alert.key, rule: ruleOf(alert.key), severity: alert.severity, source: alert.source });
      await this.#armDelivery();
    }
    return result;
  }

  /** Resolves the open (or acknowledged) alert with `key`, if any: its condition cleared. */
  async resolveAlert(key: string, actor = "system"): Promise<AlertView | null> {
    await this.ready();
    return (await this.#resolveWhere((k) => k === key, actor))[0] ?? null;
  }

  /** Resolves every unresolved alert whose key `matches`, queueing a `resolved` delivery for each. */
  async #resolveWhere(matches: (key: string) => boolean, actor: string): Promise<AlertView[]> {
    const now = Date.now();
    const resolved = this.ctx.storage.transactionSync(() => {
      const open = this.db
        .select()
        .from(schema.alerts)
        .where(ne(schema.alerts.state, "resolved"))
        .all()
        .filter((a) => matches(a.key));
      return open.map((before) => {
        const after: AlertView = { ...before, state: "resolved", resolvedBy: actor, resolvedAt: now };
        this.db
          .update(schema.alerts)
          .set({ state: "resolved", resolvedBy: actor, resolvedAt: now })
          .where(eq(schema.alerts.id, before.id))
          .run();
        this.#outbox.enqueue(after, "resolved", now);
        return after;
      });
    });
    if (resolved.length) await this.#armDelivery();
    return resolved;
  }

  /**
   * Runs the condition rules now (AdminDO's alarm does it every alerts.evaluateEverySeconds):
   * opens what holds, resolves what cleared. A rule whose facts could not be read is left alone.
   */
  async evaluateAlerts(): Promise<{ raised: string[]; resolved: string[]; errors: string[] }> {
    await this.ready();
    const { config } = this.#config();
    const evaluation = await evaluateConditions(this.env, loadConfig(this.env), config.alerts);
    // The lockdown is this object's own state: read it now, after the probes' awaits, never before.
    const lockdown = this.#emergency().lockdown;
    evaluation.evaluated.push("emergency:lockdown");
    if (lockdown.active) evaluation.active.push(lockdownCondition(lockdown.reason));
    const raised: string[] = [];
    for (const condition of evaluation.active) {
      if ((await this.raiseAlert(condition)).created) raised.push(condition.key);
    }
    const holding = new Set(evaluation.active.map((c: Condition) => c.key));
    const resolved = await this.#resolveWhere((key) => coveredBy(key, evaluation.evaluated) && !holding.has(key), "system");
    if (evaluation.errors.length) logEvent("warn", "admin.alert_rules_unread", { errors: evaluation.errors });
    return { raised, resolved: resolved.map((a) => a.key), errors: evaluation.errors };
  }

  /** The alert deliveries (webhooks and mail), newest first: the delivery log. */
  async alertDeliveries(filter: { alertId?: string; state?: DeliveryRow["state"]; limit: number }): Promise<DeliveryRow[]> {
    await this.ready();
    return this.#outbox.list(filter);
  }

  /** Unresolved alerts per rule (every rule present, 0 when none): the `lucid_alerts_open` series. */
  async openAlertsByRule(): Promise<Record<AlertRule | "other", number>> {
    await this.ready();
    const counts = Object.fromEntries([...ALERT_RULES.map((r) => [r.rule, 0]), ["other", 0]]) as Record<AlertRule | "other", number>;
    for (const row of this.db.select({ key: schema.alerts.key }).from(schema.alerts).where(ne(schema.alerts.state, "resolved")).all())
      counts[ruleOf(row.key)]++;
    return counts;
  }

  // ---- integrity of the chain's stored blocks and the audit log (integrity.ts) ----------------

  /** The last check of each store and when the next is due. */
  async storeChecks(): Promise<StoreCheckRow[]> {
    await this.ready();
    return this.#stores.list();
  }

  /** Re-checks one store now (ADMIN); a mismatch alerts and is audited like a scheduled one. */
  async checkStore(target: StoreTarget): Promise<StoreCheckRow> {
    await this.ready();
    return this.#stores.run(target, "request", loadConfig(this.env).INTEGRITY_SCRUB_INTERVAL_SECONDS);
  }

  override async alarm(): Promise<void> {
    await this.ready();
    const limits = this.#config().config.alerts;
    try {
      await this.evaluateAlerts();
    } catch (error) {
      logEvent("error", "admin.alert_evaluation_failed", { error: error instanceof Error ? error.message : String(error) });
    }
    await this.#stores.runDue(loadConfig(this.env).INTEGRITY_SCRUB_INTERVAL_SECONDS);
    await this.#outbox.deliverDue(limits);
    const next = this.#outbox.nextDue();
    const evaluateAt = Date.now() + limits.evaluateEverySeconds * 1000;
    await this.ctx.storage.setAlarm(next === null ? evaluateAt : Math.max(Date.now(), Math.min(next, evaluateAt)));
  }

  /** Brings the alarm forward to now when a delivery is waiting (never pushes a due alarm back). */
  async #armDelivery(): Promise<void> {
    const next = this.#outbox.nextDue();
    if (next !== null) await wakeBy(this.ctx.storage, next, { notBefore: Date.now() });
  }

  async listAlerts(filter: { state?: AlertView["state"]; beforeLastAt?: number; limit: number }): Promise<AlertView[]> {
    await this.ready();
    return this.db
      .select()
      .from(schema.alerts)
      .where(
        and(
          filter.state ? eq(schema.alerts.state, filter.state) : undefined,
          filter.beforeLastAt !== undefined ? lt(schema.alerts.lastAt, filter.beforeLastAt) : undefined,
        ),
      )
      .orderBy(desc(schema.alerts.lastAt), desc(schema.alerts.id))
      .limit(filter.limit)
      .all();
  }

  /** open → acknowledged, or open|acknowledged → resolved. */
  async transitionAlert(
    id: string,
    to: "acknowledged" | "resolved",
    actor: string,
  ): Promise<Outcome<{ before: AlertView; after: AlertView }>> {
    await this.ready();
    const before = this.db.select().from(schema.alerts).where(eq(schema.alerts.id, id)).get();
    if (!before) return refuse("not-found", `No alert ${id}.`);
    const allowed = to === "acknowledged" ? before.state === "open" : before.state !== "resolved";
    if (!allowed) return refuse("invalid-state", `The alert is ${before.state}; it cannot become ${to}.`, { state: before.state });
    const now = Date.now();
    const patch =
      to === "acknowledged" ? { state: to, acknowledgedBy: actor, acknowledgedAt: now } : { state: to, resolvedBy: actor, resolvedAt: now };
    const after: AlertView = { ...before, ...patch };
    this.ctx.storage.transactionSync(() => {
      this.db.update(schema.alerts).set(patch).where(eq(schema.alerts.id, id)).run();
      if (to === "resolved") this.#outbox.enqueue(after, "resolved", now);
    });
    if (to === "resolved") await this.#armDelivery();
    return ok({ before, after });
  }

  /**
   * Health-check results: a function failing `healthAlertAfterFailures` times in a row raises
   * `health:<name>`; a healthy check resets the streak and resolves that alert.
   */
  async observeHealth(
    results: { name: string; status: string; detail: string | null }[],
  ): Promise<{ raised: string[]; resolved: string[] }> {
    await this.ready();
    const threshold = this.#config().config.healthAlertAfterFailures;
    const raised: string[] = [];
    const resolved: string[] = [];
    for (const result of results) {
      const key = `health:${result.name}`;
      if (result.status === "up") {
        this.db.delete(schema.healthStreaks).where(eq(schema.healthStreaks.name, result.name)).run();
        const open = await this.#resolveWhere((k) => k === key, "system");
        if (open.length) resolved.push(key);
        continue;
      }
      const streak = this.db
        .insert(schema.healthStreaks)
        .values({ name: result.name, failures: 1 })
        .onConflictDoUpdate({ target: schema.healthStreaks.name, set: { failures: sql`${schema.healthStreaks.failures} + 1` } })
        .returning()
        .get();
      if (streak.failures >= threshold) {
        await this.raiseAlert({
          key,
          severity: result.status === "down" ? "critical" : "warning",
          source: "health",
          title: `${result.name} is ${result.status}`,
          detail: `${streak.failures} failed check(s) in a row${result.detail ? `: ${result.detail}` : ""}`.slice(0, 2000),
        });
        raised.push(key);
      }
    }
    return { raised, resolved };
  }

  // ---- notifications -----------------------------------------------------------------------

  async broadcast(
    input: { audience: NotificationAudience; severity: AlertView["severity"]; title: string; body: string },
    actor: string,
  ): Promise<BroadcastMessage> {
    await this.ready();
    const at = Date.now();
    const row = this.db
      .insert(schema.notifications)
      .values({ ...input, at, sentBy: actor })
      .returning()
      .get();
    const keep = this.#config().config.notificationHistory;
    this.db
      .delete(schema.notifications)
      .where(lt(schema.notifications.id, row.id - keep + 1))
      .run();
    const message: BroadcastMessage = { type: "notification", id: row.id, at: new Date(at).toISOString(), ...input };
    this.#send(input.audience, message);
    return message;
  }

  /** Reverses a broadcast: listeners get a `retraction`, and it leaves the recent list. */
  async retract(id: number, actor: string): Promise<Outcome<{ before: BroadcastMessage; after: BroadcastMessage }>> {
    await this.ready();
    const row = this.db.select().from(schema.notifications).where(eq(schema.notifications.id, id)).get();
    if (!row) return refuse("not-found", `No notification ${id}.`);
    if (row.retractedAt !== null) return refuse("invalid-state", `Notification ${id} is already retracted.`, { state: "retracted" });
    this.db.update(schema.notifications).set({ retractedAt: Date.now(), retractedBy: actor }).where(eq(schema.notifications.id, id)).run();
    const before = this.#message(row);
    const after: BroadcastMessage = { ...before, type: "retraction", at: new Date().toISOString() };
    this.#send(row.audience, after);
    return ok({ before, after });
  }

  /** Live (not retracted) notifications after `afterId` that `listener` may see, oldest first. */
  async recentNotifications(listener: Listener, afterId: number, limit: number): Promise<BroadcastMessage[]> {
    await this.ready();
    return this.#notificationsAfter(listener, afterId, limit);
  }

  #notificationsAfter(listener: Listener, afterId: number, limit: number, newest = false): BroadcastMessage[] {
    const audiences: NotificationAudience[] = ["all", listener === "agent" ? "agents" : "clients"];
    const rows = this.db
      .select()
      .from(schema.notifications)
      .where(
        and(
          gt(schema.notifications.id, afterId),
          isNull(schema.notifications.retractedAt),
          inArray(schema.notifications.audience, audiences),
        ),
      )
      .orderBy(newest ? desc(schema.notifications.id) : schema.notifications.id)
      .limit(limit)
      .all()
      .map((row) => this.#message(row));
    return newest ? rows.reverse() : rows;
  }

  #retractedUpTo(listener: Listener, afterId: number): number[] {
    const audiences: NotificationAudience[] = ["all", listener === "agent" ? "agents" : "clients"];
    return this.db
      .select({ id: schema.notifications.id })
      .from(schema.notifications)
      .where(
        and(
          lte(schema.notifications.id, afterId),
          isNotNull(schema.notifications.retractedAt),
          inArray(schema.notifications.audience, audiences),
        ),
      )
      .orderBy(schema.notifications.id)
      .limit(10_000)
      .all()
      .map((row) => row.id);
  }

  #message(row: typeof schema.notifications.$inferSelect): BroadcastMessage {
    return {
      type: "notification",
      id: row.id,
      at: new Date(row.at).toISOString(),
      audience: row.audience,
      severity: row.severity,
      title: row.title,
      body: row.body,
    };
  }

  /**
   * Upgrades an already-authorized request (the route checked the caller) to a listener socket.
   * `X-Lucid-After` (the route's `after`): every notification after that id is replayed right after
   * the hello, so a listener that reconnects misses none and, keeping the ids it saw, sees none twice.
   * All of it is sent without yielding, so no broadcast can slip in between the hello and the replay.
   */
  override async fetch(request: Request): Promise<Response> {
    await this.ready();
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response(null, { status: 426 });
    const listener: Listener = request.headers.get("X-Lucid-Listener") === "agent" ? "agent" : "client";
    const afterHeader = request.headers.get("X-Lucid-After");
    const after = afterHeader !== null && /^\d{1,15}$/.test(afterHeader) ? Number(afterHeader) : null;
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [listener]);
    const newest = this.db
      .select({ id: sql<number>`coalesce(max(${schema.notifications.id}), 0)` })
      .from(schema.notifications)
      .get();
    const hello: HelloMessage = {
      type: "hello",
      listener,
      emergency: this.#emergency(),
      recent: after === null ? this.#notificationsAfter(listener, 0, 20, true) : [],
      lastId: newest?.id ?? 0,
      resumedAfter: after,
      retracted: after === null ? [] : this.#retractedUpTo(listener, after),
    };
    server.send(JSON.stringify(hello));
    if (after !== null) {
      for (const message of this.#notificationsAfter(listener, after, this.#config().config.notificationHistory))
        server.send(JSON.stringify(message));
    }
    const subprotocol = request.headers.get("X-Lucid-Subprotocol");
    return new Response(null, { status: 101, webSocket: client, headers: subprotocol ? { "Sec-WebSocket-Protocol": subprotocol } : {} });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // The stream is one-way; a listener may only ping.
    if (typeof message === "string" && message === '{"type":"ping"}') ws.send('{"type":"pong"}');
    else ws.close(1003, 'only {"type":"ping"} is accepted');
  }

  #send(audience: NotificationAudience, message: NotificationMessage): void {
    const sockets = audience === "all" ? this.ctx.getWebSockets() : this.ctx.getWebSockets(audience === "agents" ? "agent" : "client");
    const text = JSON.stringify(message);
    for (const ws of sockets) {
      try {
        ws.send(text);
      } catch {
        // A closing socket: the runtime drops it.
      }
    }
  }
}
