import { and, desc, eq, inArray, isNull, lte, or, sql } from "drizzle-orm";
import { loadConfig, type Config } from "../../shared/config.ts";
import type { Env } from "../../shared/env.ts";
import { logEvent } from "../../shared/log.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import {
  CLOSE_POLICY,
  CLOSE_REPLACED,
  PING_FRAME,
  PONG_FRAME,
  PROTOCOL_VERSION,
  type AgentMessage,
  type EventBody,
  type ServerConfig,
  type ServerLimits,
} from "../../shared/rdp/protocol.ts";
import { canMoveConnection, canMoveServer, HOLDS_PORT, isIdle, type ConnectionState, type ServerState } from "../../shared/rdp/states.ts";
import { SqlDurableObject } from "../base.ts";
import { rdpRefusal, type RdpAccess, type RdpActor } from "./access.ts";
import { AGENT_TAG, AttachmentSchema, checkAgentFrame, errorFrame, HOST_HEADER, oneTimePassword, PUBLIC_KEY_HEADER, randomHex, type Attachment } from "./channel.ts";
import migrations from "./drizzle/migrations.js";
import { CommandQueue, type CommandRow } from "./command-queue.ts";
import { describeBreach, evaluateReport } from "./monitor.ts";
import * as schema from "./schema.ts";
import { alertView, serverView, type AlertView, type ServerRow, type ServerView } from "./views.ts";
import { MetricsBuffer } from "../../functions/metrics.ts";

export type { RdpActor } from "./access.ts";
export type { AlertView, ServerView } from "./views.ts";

export interface DesktopInput {
  hostId: string;
  sessionId: string;
  ownerId: string;
  config: Omit<ServerConfig, "user">;
  limits: ServerLimits;
}

export interface Desktop {
  server: ServerView;
  host: string | null;
  port: number;
  username: string;
  password: string;
}

const { servers, alerts, host } = schema;
const LIVE: ServerState[] = ["created", "starting", "running", "stopping"];
const RARE_METRICS = new Set([
  "lucid_rdp_terminations_total",
  "lucid_rdp_server_failures_total",
  "lucid_rdp_alerts_total",
  "lucid_rdp_pool_exhausted_total",
  "lucid_rdp_ports_reclaimed_total",
  "lucid_rdp_commands_expired_total",
]);
/** Keep-alive: a socket silent for this many keep-alive periods is closed as dead. */
const DEAD_AFTER_KEEPALIVES = 3;

/**
 * One Pi host's RDP control plane (named by the node id): the 13389–14389 port pool, the
 * servers' lifecycle and connection states, the command queue to the agent (acked, retried,
 * replayed after a reconnect), the resource monitor, and the agent's WebSocket (hibernation
 * API). Every state change is pushed to the session's live status stream. The alarm retries
 * commands and enforces leases (leaked ports), idle timeouts, session TTLs and keep-alive.
 */
export class RdpHostDO extends SqlDurableObject<typeof schema, Env> {
  readonly #metrics = new MetricsBuffer();
  #flushSoon = false;
  #notifications: Promise<void> = Promise.resolve();
  readonly #commands: CommandQueue;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
    this.#commands = new CommandQueue(
      this.db,
      () => {
        const agent = this.#agent();
        return agent?.att.helloed ? agent.ws : null;
      },
      (name, labels) => this.#count(name, labels),
    );
    // Pings are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  get #config(): Config {
    return loadConfig(this.env);
  }

  #hostId(): string {
    return this.db.select({ id: host.id }).from(host).get()?.id ?? "";
  }

  #ensureHost(hostId: string): void {
    this.db.insert(host).values({ id: hostId }).onConflictDoNothing().run();
  }

  #server(id: string): ServerRow | undefined {
    return this.db.select().from(servers).where(eq(servers.id, id)).get();
  }

  #view(row: ServerRow): ServerView {
    return serverView(row, this.#hostId());
  }

  #agent(): { ws: WebSocket; att: Attachment } | null {
    for (const ws of this.ctx.getWebSockets(AGENT_TAG)) {
      const att = AttachmentSchema.safeParse(ws.deserializeAttachment());
      if (att.success && ws.readyState === 1) return { ws, att: att.data };
    }
    return null;
  }

  // ---- agent channel ------------------------------------------------------------------------

  /** The route has verified the node credential and passes the host id and the node's public key. */
  override async fetch(request: Request): Promise<Response> {
    await this.ready();
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response(null, { status: 426 });
    const hostId = request.headers.get(HOST_HEADER);
    const publicKey = request.headers.get(PUBLIC_KEY_HEADER);
    if (!hostId || !publicKey) return new Response(null, { status: 400 });
    this.#ensureHost(hostId);
    for (const old of this.ctx.getWebSockets(AGENT_TAG)) old.close(CLOSE_REPLACED, "replaced by a newer connection");
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [AGENT_TAG]);
    const now = Date.now();
    const att: Attachment = { hostId, publicKey, channel: randomHex(16), lastSeq: 0, helloed: false, lastMessageAt: now };
    server.serializeAttachment(att);
    const config = this.#config;
    server.send(
      JSON.stringify({
        type: "welcome",
        protocol: PROTOCOL_VERSION,
        hostId,
        channel: att.channel,
        serverTime: now,
        keepAliveSeconds: config.RDP_KEEPALIVE_SECONDS,
        reportSeconds: config.RDP_REPORT_SECONDS,
      }),
    );
    this.db.update(host).set({ connectedAt: now, lastSeenAt: now }).where(eq(host.id, hostId)).run();
    this.#count("lucid_rdp_agent_connections_total", {});
    await this.#schedule();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    await this.ready();
    const att = AttachmentSchema.safeParse(ws.deserializeAttachment());
    if (!att.success) return ws.close(CLOSE_POLICY, "unknown socket");
    const verdict = await checkAgentFrame(raw, att.data);
    if (!verdict.ok) {
      this.#count("lucid_rdp_agent_frames_refused_total", { reason: verdict.code });
      logEvent("warn", "rdp.agent.frame_refused", { hostId: att.data.hostId, code: verdict.code }, this.#config.LOG_LEVEL);
      ws.send(errorFrame(verdict.code, verdict.detail, verdict.ref));
      ws.close(CLOSE_POLICY, verdict.code);
      return;
    }
    const message = verdict.message;
    // Re-read after the (async) signature check: a frame processed meanwhile may have moved the sequence on.
    const current = AttachmentSchema.parse(ws.deserializeAttachment());
    if (message.seq <= current.lastSeq) {
      ws.send(errorFrame("replayed-message", `seq ${message.seq} is not above the last accepted ${current.lastSeq}.`, message.seq));
      ws.close(CLOSE_POLICY, "replayed-message");
      return;
    }
    const now = Date.now();
    const next: Attachment = { ...current, lastSeq: message.seq, lastMessageAt: now, helloed: current.helloed || message.type === "hello" };
    ws.serializeAttachment(next);
    if (message.type !== "hello" && !current.helloed) {
      ws.send(errorFrame("hello-required", "Send hello before anything else.", message.seq));
      return;
    }
    await this.#handle(ws, message, now);
    await this.#flushMetrics();
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.ready();
    this.db.update(host).set({ lastSeenAt: Date.now() }).run();
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // Already closed.
    }
  }

  async #handle(ws: WebSocket, message: AgentMessage, now: number): Promise<void> {
    switch (message.type) {
      case "hello":
        this.db
          .update(host)
          .set({ address: message.address ?? null, agentVersion: message.agentVersion, lastSeenAt: now })
          .run();
        await this.#reconcile(message.servers);
        this.#commands.replay(ws);
        await this.#schedule();
        return;
      case "ack":
        await this.#onAck(ws, message);
        return;
      case "acks":
        for (const ack of message.acks) await this.#onAck(ws, { ...ack, seq: message.seq });
        return;
      case "event":
        await this.#onEvent(message.event, now);
        return;
    }
  }

  /**
   * After hello: servers the agent runs but should not get a stop again; a starting server it
   * reports listening is running; a running server it no longer has (the agent restarted) failed.
   */
  async #reconcile(reported: { serverId: string; state: string }[]): Promise<void> {
    const onHost = new Map(reported.map((r) => [r.serverId, r.state]));
    for (const [serverId, state] of onHost) {
      if (state !== "listening" && state !== "starting") continue;
      const row = this.#server(serverId);
      if (row?.state === "starting" && state === "listening") await this.#running(row);
      if (row && LIVE.includes(row.state as ServerState)) continue;
      if (!this.#commands.forServer(serverId, "server.stop", true)) this.#commands.enqueue({ kind: "server.stop", serverId, reason: "unknown-to-host", destroy: true }, false);
    }
    for (const row of this.db.select().from(servers).where(eq(servers.state, "running")).all()) {
      const state = onHost.get(row.id);
      if (state !== "listening" && state !== "starting") await this.#fail(row, "lost-on-host");
    }
  }

  async #onAck(ws: WebSocket, ack: { commandId: string; outcome: "done" | "failed"; error?: { code: string; detail: string }; seq: number }): Promise<void> {
    const row = this.#commands.byId(ack.commandId);
    if (!row) {
      ws.send(errorFrame("unknown-command", `No command ${ack.commandId}.`, ack.seq));
      return;
    }
    // A duplicate ack (the agent re-acks a replayed command) changes nothing.
    if (row.status !== "pending") return;
    const error = ack.outcome === "failed" ? `${ack.error?.code ?? "failed"}: ${ack.error?.detail ?? ""}` : null;
    this.#commands.settle(row, ack.outcome, error);
    this.#count("lucid_rdp_commands_acked_total", { kind: row.kind, outcome: ack.outcome });
    if (row.kind !== "server.start" && row.kind !== "server.stop") return;
    const server = this.#server(row.serverId);
    if (!server) return;
    if (row.kind === "server.start") {
      if (ack.outcome === "done") await this.#running(server);
      else await this.#fail(server, `start-failed`);
    } else if (row.kind === "server.stop") {
      const body = JSON.parse(row.body) as { destroy: boolean };
      // The agent could not stop it: failed (the next hello's reconcile sends another stop if it still runs).
      if (ack.outcome === "failed") await this.#fail(server, "stop-failed");
      else await this.#stopped(server, body.destroy);
    }
  }

  async #onEvent(event: EventBody, now: number): Promise<void> {
    const server = this.#server(event.serverId);
    if (!server) return;
    if (event.kind === "server") {
      if (event.state === "listening") await this.#running(server);
      else if (event.state === "stopped") await this.#stopped(server, false);
      else if (event.state === "failed") await this.#fail(server, event.detail ? `agent: ${event.detail.slice(0, 48)}` : "agent-reported-failure");
      return;
    }
    if (event.kind === "connection") {
      await this.#connection(server, event.state, null);
      return;
    }
    await this.#monitor(server, event, now);
  }

  // ---- state changes ------------------------------------------------------------------------

  async #moveServer(row: ServerRow, to: ServerState, reason: string | null, extra: Partial<ServerRow> = {}): Promise<ServerRow> {
    const from = row.state as ServerState;
    if (from === to && Object.keys(extra).length === 0) return row;
    if (from !== to && !canMoveServer(from, to)) return row;
    const now = Date.now();
    const set: Partial<ServerRow> = { ...extra, state: to, stateChangedAt: now };
    if (!HOLDS_PORT.includes(to)) set.port = null;
    if (reason !== null && row.endReason === null && (to === "stopping" || to === "stopped" || to === "failed")) set.endReason = reason;
    this.db.update(servers).set(set).where(eq(servers.id, row.id)).run();
    const next = this.#server(row.id)!;
    if (from !== to) {
      this.#count("lucid_rdp_server_transitions_total", { to });
      logEvent("info", "rdp.server.transition", { serverId: row.id, from, to, reason }, this.#config.LOG_LEVEL);
    }
    await this.#notifySession(next, reason);
    return next;
  }

  async #running(row: ServerRow): Promise<void> {
    if (row.state !== "starting" && row.state !== "created") return;
    const now = Date.now();
    const limits = JSON.parse(row.limits) as ServerLimits;
    await this.#moveServer(row, "running", null, {
      startedAt: now,
      expiresAt: now + limits.sessionTtlSeconds * 1000,
      idleSince: now,
      leaseExpiresAt: null,
    });
    await this.#schedule();
  }

  async #stopped(row: ServerRow, destroy: boolean): Promise<void> {
    let current = row;
    if (current.connection !== "terminated" && current.connection !== null) current = await this.#setConnection(current, "terminated");
    if (LIVE.includes(current.state as ServerState)) current = await this.#moveServer(current, "stopped", "stopped");
    if (destroy && (current.state === "stopped" || current.state === "failed")) await this.#moveServer(current, "destroyed", null);
  }

  async #fail(row: ServerRow, reason: string): Promise<void> {
    if (!LIVE.includes(row.state as ServerState)) return;
    this.#count("lucid_rdp_server_failures_total", { reason: reason.split(":")[0]! });
    await this.#moveServer(row, "failed", reason);
  }

  async #setConnection(row: ServerRow, to: ConnectionState): Promise<ServerRow> {
    const idleSince = to === "active" ? null : isIdle(to) ? (row.idleSince ?? Date.now()) : row.idleSince;
    this.db.update(servers).set({ connection: to, idleSince }).where(eq(servers.id, row.id)).run();
    return this.#server(row.id)!;
  }

  async #connection(row: ServerRow, to: ConnectionState, reason: string | null): Promise<void> {
    if (row.state !== "running") return;
    if (!canMoveConnection(row.connection as ConnectionState | null, to)) return;
    const next = await this.#setConnection(row, to);
    this.#count("lucid_rdp_connection_transitions_total", { to });
    await this.#notifySession(next, reason);
    await this.#schedule();
  }

  /** Ends a desktop: connection terminated, server stopping, a stop command to the agent. */
  async #terminate(row: ServerRow, reason: string, destroy = false): Promise<ServerRow> {
    if (!LIVE.includes(row.state as ServerState) || row.state === "stopping") return row;
    this.#count("lucid_rdp_terminations_total", { reason });
    let current = row;
    if (current.connection !== null && current.connection !== "terminated") {
      this.db.update(servers).set({ connection: "terminated" }).where(eq(servers.id, row.id)).run();
      current = this.#server(row.id)!;
    }
    const start = this.#commands.forServer(row.id, "server.start", false);
    if (current.state === "created" || (current.state === "starting" && start?.attempts === 0)) {
      // The agent never saw the start: cancel it, nothing to stop there.
      if (start?.status === "pending") this.#commands.settle(start, "expired", `cancelled: ${reason}`);
      const stopped = await this.#moveServer(current, "stopped", reason);
      return destroy ? this.#moveServer(stopped, "destroyed", null) : stopped;
    }
    this.#commands.enqueue({ kind: "server.stop", serverId: row.id, reason, destroy });
    const next = await this.#moveServer(current, "stopping", reason, { leaseExpiresAt: null });
    await this.#schedule();
    return next;
  }

  /**
   * Pushes a state change to the session's live status stream. Queued, not awaited: a call out
   * of a DO waits for its pending writes to commit, which would serialise every allocation on
   * the disk. One chain per object keeps the changes in order.
   */
  async #notifySession(row: ServerRow, reason: string | null): Promise<void> {
    const update = {
      serverId: row.id,
      hostId: this.#hostId(),
      server: row.state,
      connection: row.connection,
      reason: reason ?? row.endReason,
      at: new Date().toISOString(),
    };
    const session = this.env.SESSIONS.get(this.env.SESSIONS.idFromName(row.sessionId));
    this.#notifications = this.#notifications
      .then(async () => {
        await session.rdpStatus(update);
      })
      .then(
        () => {},
        (error: unknown) => logEvent("warn", "rdp.session_notify_failed", { serverId: row.id, error: String(error) }, this.#config.LOG_LEVEL),
      );
    this.ctx.waitUntil(this.#notifications);
  }

  // ---- monitor ------------------------------------------------------------------------------

  async #monitor(row: ServerRow, report: Extract<EventBody, { kind: "resources" }>, now: number): Promise<void> {
    if (row.state !== "running") return;
    const { kind: _k, serverId: _s, ...figures } = report;
    const limits = JSON.parse(row.limits) as ServerLimits;
    const { over, near } = evaluateReport(report, limits);
    const strikes = over.length ? row.strikes + 1 : 0;
    this.db.update(servers).set({ lastReport: JSON.stringify(figures), lastReportAt: now, strikes }).where(eq(servers.id, row.id)).run();
    this.#count("lucid_rdp_resource_reports_total", {});
    this.#count("lucid_rdp_network_kbits_total", { direction: "rx" }, report.rxKbps * this.#config.RDP_REPORT_SECONDS);
    this.#count("lucid_rdp_network_kbits_total", { direction: "tx" }, report.txKbps * this.#config.RDP_REPORT_SECONDS);
    const maxStrikes = this.#config.RDP_LIMIT_STRIKES;
    if (over.length && strikes >= maxStrikes) {
      const message = `Terminated after ${strikes} reports over a limit: ${over.map(describeBreach).join(", ")}.`;
      for (const b of over) await this.#alert(row, "critical", b.metric, b.value, b.limit, message);
      await this.#terminate(this.#server(row.id)!, "limit-exceeded");
    } else if (over.length && strikes === 1) {
      const message = `Over its limit: ${over.map(describeBreach).join(", ")}. The desktop ends after ${maxStrikes} such reports in a row.`;
      for (const b of over) await this.#alert(row, "warning", b.metric, b.value, b.limit, message);
      this.#commands.enqueue({ kind: "server.notify", serverId: row.id, level: "warning", message });
    } else if (near.length && row.strikes === 0 && row.lastReport !== null) {
      const previous = evaluateReport({ ...report, ...(JSON.parse(row.lastReport) as object) }, limits).near;
      const fresh = near.filter((b) => !previous.some((p) => p.metric === b.metric));
      for (const b of fresh) await this.#alert(row, "warning", b.metric, b.value, b.limit, `Near its limit: ${b.metric} at ${b.value} of ${b.limit}.`);
    }
  }

  async #alert(row: ServerRow, level: "warning" | "critical", metric: string, value: number, limit: number, message: string): Promise<void> {
    this.db.insert(alerts).values({ serverId: row.id, level, metric, value: Math.round(value), limit, message, at: Date.now() }).run();
    this.#count("lucid_rdp_alerts_total", { level, metric });
    try {
      // Admins see alerts in the audit log as well as at /api/v1/rdp/alerts.
      await this.env.AUDIT.get(this.env.AUDIT.idFromName("audit")).record({
        action: level === "critical" ? "rdp.limit.exceeded" : "rdp.limit.warning",
        outcome: "failure",
        targetId: row.id,
        details: { hostId: this.#hostId(), sessionId: row.sessionId, ownerId: row.ownerId, metric, value: Math.round(value), limit },
      });
    } catch (error) {
      logEvent("warn", "rdp.alert_audit_failed", { serverId: row.id, error: String(error) }, this.#config.LOG_LEVEL);
    }
  }

  // ---- metrics ------------------------------------------------------------------------------

  #count(name: string, labels: Record<string, string>, by = 1): void {
    this.#metrics.inc(name, labels, by);
    if (RARE_METRICS.has(name)) this.#flushSoon = true;
  }

  /** Buffered like the Worker's own counters; rare events (terminations, failures, alerts) go out at once. */
  async #flushMetrics(force = false): Promise<void> {
    const deltas = this.#metrics.take(force || this.#flushSoon);
    this.#flushSoon = false;
    if (!deltas.length) return;
    try {
      await this.env.SYSTEM.get(this.env.SYSTEM.idFromName("system")).addMetrics(deltas);
    } catch {
      this.#metrics.restore(deltas);
    }
  }

  // ---- RPC: servers -------------------------------------------------------------------------

  /** Lowest free port of the range (the first gap, found by SQLite); null when the pool is exhausted. */
  #freePort(config: Config): number | null {
    const [{ held }] = this.ctx.storage.sql.exec<{ held: number }>("SELECT count(*) AS held FROM servers WHERE port IS NOT NULL").toArray() as [{ held: number }];
    if (held >= config.RDP_MAX_SERVERS) return null;
    const [row] = this.ctx.storage.sql
      .exec<{ port: number | null }>(
        `SELECT min(p) AS port FROM (SELECT ? AS p UNION ALL SELECT port + 1 FROM servers WHERE port IS NOT NULL)
         WHERE p <= ? AND p NOT IN (SELECT port FROM servers WHERE port IS NOT NULL)`,
        config.RDP_PORT_MIN,
        config.RDP_PORT_MAX,
      )
      .toArray();
    return row?.port ?? null;
  }

  /**
   * Allocates a port and starts a desktop for a session: the server is `starting` until the
   * agent acks the start (or reports it listening). A session may hold several desktops
   * (a migration overlaps the old and the new one).
   */
  async createDesktop(input: DesktopInput): Promise<Outcome<Desktop>> {
    await this.ready();
    this.#ensureHost(input.hostId);
    const agent = this.#agent();
    if (!agent?.att.helloed) return refuse("host-offline", `The agent of host ${input.hostId} is not connected.`, { hostId: input.hostId });
    const config = this.#config;
    const port = this.#freePort(config);
    if (port === null) {
      this.#count("lucid_rdp_pool_exhausted_total", {});
      await this.#flushMetrics(true);
      return refuse("rdp-pool-exhausted", `All ${config.RDP_MAX_SERVERS} RDP servers of this host are allocated.`, {
        maxServers: config.RDP_MAX_SERVERS,
        portMin: config.RDP_PORT_MIN,
        portMax: config.RDP_PORT_MAX,
      });
    }
    const now = Date.now();
    const id = `rdp_${randomHex(12)}`;
    const serverConfig: ServerConfig = { ...input.config, user: `lucid${port}` };
    const password = oneTimePassword();
    this.ctx.storage.transactionSync(() => {
      this.db
        .insert(servers)
        .values({
          id,
          sessionId: input.sessionId,
          ownerId: input.ownerId,
          port,
          state: "created",
          config: JSON.stringify(serverConfig),
          limits: JSON.stringify(input.limits),
          createdAt: now,
          stateChangedAt: now,
          leaseExpiresAt: now + config.RDP_START_TIMEOUT_SECONDS * 1000,
        })
        .run();
    });
    this.#count("lucid_rdp_servers_created_total", { backend: serverConfig.backend });
    const created = await this.#moveServer(this.#server(id)!, "starting", null);
    this.#commands.enqueue({ kind: "server.start", serverId: id, sessionId: input.sessionId, port, config: serverConfig, limits: input.limits, password });
    await this.#schedule();
    await this.#flushMetrics();
    const address = this.db.select({ address: host.address }).from(host).get()?.address ?? null;
    return ok({ server: this.#view(this.#server(created.id)!), host: address, port, username: serverConfig.user, password });
  }

  #authorized(serverId: string, actor: RdpActor, access: RdpAccess): Outcome<ServerRow> {
    const row = this.#server(serverId);
    if (!row) return refuse("not-found", "No such RDP server.");
    const refusal = rdpRefusal(actor, access, row.ownerId);
    return refusal ? { ok: false, problem: refusal } : ok(row);
  }

  async getServer(serverId: string, actor: RdpActor): Promise<Outcome<ServerView>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, "view");
    return row.ok ? ok(this.#view(row.value)) : row;
  }

  /** All servers (operator/admin listing), newest first, optionally only live ones. */
  async listServers(options: { liveOnly: boolean; ownerId?: string }): Promise<ServerView[]> {
    await this.ready();
    const conditions = [
      ...(options.liveOnly ? [inArray(servers.state, LIVE)] : []),
      ...(options.ownerId ? [eq(servers.ownerId, options.ownerId)] : []),
    ];
    return this.db
      .select()
      .from(servers)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(desc(servers.createdAt))
      .limit(1000)
      .all()
      .map((row) => this.#view(row));
  }

  async listAlerts(limit: number): Promise<AlertView[]> {
    await this.ready();
    const hostId = this.#hostId();
    return this.db.select().from(alerts).orderBy(desc(alerts.id)).limit(limit).all().map((row) => alertView(row, hostId));
  }

  async hostStatus(): Promise<{ hostId: string; connected: boolean; address: string | null; agentVersion: string | null; lastSeenAt: string | null; serversLive: number; pendingCommands: number }> {
    await this.ready();
    const row = this.db.select().from(host).get();
    const live = await this.db.$count(servers, inArray(servers.state, LIVE));
    const pending = await this.#commands.pendingCount();
    return {
      hostId: row?.id ?? "",
      connected: this.#agent()?.att.helloed ?? false,
      address: row?.address ?? null,
      agentVersion: row?.agentVersion ?? null,
      lastSeenAt: row?.lastSeenAt ? new Date(row.lastSeenAt).toISOString() : null,
      serversLive: live,
      pendingCommands: pending,
    };
  }

  /** New one-time credentials for the owner (or an admin): the old password stops working. */
  async issueCredentials(serverId: string, actor: RdpActor): Promise<Outcome<Desktop>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, "control");
    if (!row.ok) return row;
    const server = row.value;
    if (server.state !== "running" && server.state !== "starting") {
      return refuse("invalid-state", `The server is ${server.state}; only a starting or running desktop can be connected to.`, { state: server.state });
    }
    const password = oneTimePassword();
    this.#commands.enqueue({ kind: "server.credentials", serverId, password });
    await this.#schedule();
    const config = JSON.parse(server.config) as ServerConfig;
    const address = this.db.select({ address: host.address }).from(host).get()?.address ?? null;
    return ok({ server: this.#view(server), host: address, port: server.port!, username: config.user, password });
  }

  /** Hands the desktop to another user; the current password is replaced, so the old owner is out. */
  async transfer(serverId: string, actor: RdpActor, toUserId: string): Promise<Outcome<ServerView>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, "control");
    if (!row.ok) return row;
    const server = row.value;
    if (!LIVE.includes(server.state as ServerState) || server.state === "stopping") {
      return refuse("invalid-state", `The server is ${server.state}.`, { state: server.state });
    }
    if (toUserId === server.ownerId) return refuse("conflict", "The desktop already belongs to this user.");
    this.db.update(servers).set({ ownerId: toUserId }).where(eq(servers.id, serverId)).run();
    this.#commands.enqueue({ kind: "server.credentials", serverId, password: oneTimePassword() });
    await this.#schedule();
    const next = this.#server(serverId)!;
    await this.#notifySession(next, `transferred`);
    return ok(this.#view(next));
  }

  /** What a migration needs to recreate the desktop elsewhere (owner or admin only). */
  async migrationSource(serverId: string, actor: RdpActor): Promise<Outcome<{ sessionId: string; ownerId: string; config: ServerConfig; limits: ServerLimits }>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, "control");
    if (!row.ok) return row;
    const server = row.value;
    if (server.state !== "running" && server.state !== "starting") return refuse("invalid-state", `The server is ${server.state}.`, { state: server.state });
    return ok({ sessionId: server.sessionId, ownerId: server.ownerId, config: JSON.parse(server.config), limits: JSON.parse(server.limits) });
  }

  /** Stops the old desktop of a migration once the new one exists. */
  async migrated(serverId: string, toHostId: string): Promise<ServerView | null> {
    await this.ready();
    const row = this.#server(serverId);
    if (!row) return null;
    this.db.update(servers).set({ migratedTo: toHostId }).where(eq(servers.id, serverId)).run();
    const next = await this.#terminate(this.#server(serverId)!, "migrated", true);
    await this.#flushMetrics(true);
    return this.#view(next);
  }

  async stop(serverId: string, actor: RdpActor, destroy: boolean): Promise<Outcome<ServerView>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, destroy ? "destroy" : "stop");
    if (!row.ok) return row;
    let server = row.value;
    if (server.state === "destroyed") return refuse("invalid-state", "The server is already destroyed.", { state: server.state });
    if (destroy && (server.state === "stopped" || server.state === "failed")) {
      this.#commands.enqueue({ kind: "server.stop", serverId, reason: "destroyed", destroy: true });
      server = await this.#moveServer(server, "destroyed", null);
    } else if (server.state === "stopping") {
      if (!destroy) return refuse("invalid-state", "The server is already stopping.", { state: server.state });
      this.#commands.enqueue({ kind: "server.stop", serverId, reason: "destroyed", destroy: true });
    } else if (server.state === "stopped" || server.state === "failed") {
      return refuse("invalid-state", `The server is already ${server.state}.`, { state: server.state });
    } else {
      server = await this.#terminate(server, destroy ? "destroyed" : "requested", destroy);
    }
    await this.#flushMetrics(true);
    return ok(this.#view(this.#server(serverId)!));
  }

  /**
   * Operator/admin reclaim: frees the port of a server whose agent cannot stop it (the server
   * becomes `failed`). A server that holds no port is refused: a double release changes nothing.
   */
  async releasePort(serverId: string, actor: RdpActor): Promise<Outcome<ServerView>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, "destroy");
    if (!row.ok) return row;
    const server = row.value;
    if (server.port === null) return refuse("port-not-allocated", `Server ${serverId} holds no port (it is ${server.state}).`, { state: server.state });
    this.#count("lucid_rdp_ports_reclaimed_total", { by: "operator" });
    await this.#fail(server, "released");
    // Should the agent still run it, the stop makes it go; its ack finds the server already failed.
    this.#commands.enqueue({ kind: "server.stop", serverId, reason: "released", destroy: false });
    await this.#schedule();
    await this.#flushMetrics(true);
    return ok(this.#view(this.#server(serverId)!));
  }

  async updateLimits(serverId: string, actor: RdpActor, limits: ServerLimits): Promise<Outcome<ServerView>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, "destroy");
    if (!row.ok) return row;
    const server = row.value;
    if (!LIVE.includes(server.state as ServerState)) return refuse("invalid-state", `The server is ${server.state}.`, { state: server.state });
    const expiresAt = server.startedAt === null ? null : server.startedAt + limits.sessionTtlSeconds * 1000;
    this.db.update(servers).set({ limits: JSON.stringify(limits), expiresAt, strikes: 0 }).where(eq(servers.id, serverId)).run();
    this.#commands.enqueue({ kind: "server.limits", serverId, limits });
    await this.#schedule();
    return ok(this.#view(this.#server(serverId)!));
  }

  /** A message to the desktop's user (admins, operators, e.g. maintenance); acked like any command. */
  async notify(serverId: string, actor: RdpActor, level: "info" | "warning", message: string): Promise<Outcome<{ commandId: string }>> {
    await this.ready();
    const row = this.#authorized(serverId, actor, "destroy");
    if (!row.ok) return row;
    if (row.value.state !== "running") return refuse("invalid-state", `The server is ${row.value.state}.`, { state: row.value.state });
    const commandId = this.#commands.enqueue({ kind: "server.notify", serverId, level, message });
    await this.#schedule();
    await this.#flushMetrics();
    return ok({ commandId });
  }

  async commandStatus(commandId: string): Promise<{ status: string; attempts: number; error: string | null } | null> {
    await this.ready();
    const row = this.#commands.byId(commandId);
    return row ? { status: row.status, attempts: row.attempts, error: row.error } : null;
  }

  // ---- alarm: retries, leases, idle, TTL, keep-alive -----------------------------------------

  override async alarm(): Promise<void> {
    await this.ready();
    const config = this.#config;
    const now = Date.now();
    const agent = this.#agent();

    if (agent && now - Math.max(agent.att.lastMessageAt, this.#lastPing(agent.ws)) > DEAD_AFTER_KEEPALIVES * config.RDP_KEEPALIVE_SECONDS * 1000) {
      agent.ws.close(1001, "keep-alive timeout");
    } else if (agent?.att.helloed) {
      for (const row of this.#commands.due(now)) {
        if (row.attempts >= config.RDP_COMMAND_MAX_ATTEMPTS) await this.#expire(row);
        else this.#commands.deliver(agent.ws, row);
      }
    }

    // Leaked allocations: a server that did not come up within its lease gives its port back.
    const leaked = this.db.select().from(servers).where(and(inArray(servers.state, ["created", "starting"]), lte(servers.leaseExpiresAt, now))).all();
    for (const row of leaked) {
      this.#count("lucid_rdp_ports_reclaimed_total", { by: "lease" });
      const start = this.#commands.forServer(row.id, "server.start", true);
      if (start) this.#commands.settle(start, "expired", "lease expired");
      await this.#fail(row, "start-timeout");
      if (start && start.attempts > 0) this.#commands.enqueue({ kind: "server.stop", serverId: row.id, reason: "start-timeout", destroy: true });
    }

    const running = this.db.select().from(servers).where(eq(servers.state, "running")).all();
    for (const row of running) {
      if (row.expiresAt !== null && row.expiresAt <= now) await this.#terminate(row, "ttl-expired");
      else if (isIdle(row.connection as ConnectionState | null) && row.idleSince !== null && row.idleSince + config.RDP_IDLE_TIMEOUT_SECONDS * 1000 <= now) {
        await this.#terminate(row, "idle-timeout");
      }
    }
    await this.#schedule();
    await this.#flushMetrics(true);
  }

  /** An agent that never acks: the command is given up and its server failed (port released). */
  async #expire(row: CommandRow): Promise<void> {
    this.#commands.settle(row, "expired", `no ack after ${row.attempts} deliveries`);
    this.#count("lucid_rdp_commands_expired_total", { kind: row.kind });
    const server = this.#server(row.serverId);
    if (!server) return;
    if (row.kind === "server.start" || row.kind === "server.stop") await this.#fail(server, "agent-unresponsive");
    if (row.kind === "server.stop" && server.state === "failed") {
      // Port already back; nothing else to do. The next hello reconciles what the agent still runs.
    }
  }

  #lastPing(ws: WebSocket): number {
    return this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
  }

  /** The next moment something is due: a retry, a lease, an idle or TTL deadline, a keep-alive check. */
  async #schedule(): Promise<void> {
    const config = this.#config;
    const deadlines: number[] = [];
    const agent = this.#agent();
    if (agent) {
      deadlines.push(Math.max(agent.att.lastMessageAt, this.#lastPing(agent.ws)) + DEAD_AFTER_KEEPALIVES * config.RDP_KEEPALIVE_SECONDS * 1000 + 1);
      if (agent.att.helloed) {
        const next = this.#commands.nextAttemptAt();
        if (next !== null) deadlines.push(next);
      }
    }
    const idleConnection = or(isNull(servers.connection), inArray(servers.connection, ["connected", "idle", "disconnected"]));
    const soonest = this.db
      .select({
        lease: sql<number | null>`min(case when ${inArray(servers.state, ["created", "starting"])} then ${servers.leaseExpiresAt} end)`,
        ttl: sql<number | null>`min(case when ${servers.state} = 'running' then ${servers.expiresAt} end)`,
        idle: sql<number | null>`min(case when ${servers.state} = 'running' and ${idleConnection} then ${servers.idleSince} end)`,
      })
      .from(servers)
      .get();
    if (soonest?.lease != null) deadlines.push(soonest.lease);
    if (soonest?.ttl != null) deadlines.push(soonest.ttl);
    if (soonest?.idle != null) deadlines.push(soonest.idle + config.RDP_IDLE_TIMEOUT_SECONDS * 1000);
    if (!deadlines.length) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.min(...deadlines);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at || current < Date.now()) await this.ctx.storage.setAlarm(Math.max(at, Date.now() + 10));
  }
}
