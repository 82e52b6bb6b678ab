import type { Env } from "../../platform/env.ts";
import type { Outcome } from "../../shared/outcome.ts";
import { PING_FRAME, PONG_FRAME, type ServerConfig, type ServerLimits } from "../../shared/rdp/protocol.ts";
import { SqlDurableObject } from "../base.ts";
import type { RdpActor } from "./access.ts";
import { AgentLink } from "./agent-link.ts";
import { CommandQueue } from "./command-queue.ts";
import { ServerController } from "./controller.ts";
import { Desktops, type Desktop, type DesktopInput } from "./desktops.ts";
import migrations from "./drizzle/migrations.js";
import { HostAlarm } from "./host-alarm.ts";
import { HostMetrics } from "./host-metrics.ts";
import { Host } from "./host.ts";
import { ResourceMonitor, type ReportPoint } from "./resource-monitor.ts";
import * as schema from "./schema.ts";
import type { AlertView, ServerView } from "./views.ts";

export type { RdpActor } from "./access.ts";
export type { Desktop, DesktopInput } from "./desktops.ts";
export type { AlertView, ServerView } from "./views.ts";

/**
 * One Pi host's RDP control plane (named by the node id): the 13389–14389 port pool
 * (port-pool.ts), the servers' lifecycle and connection states (controller.ts), the command
 * queue to the agent, acked, retried and replayed after a reconnect (command-queue.ts), the
 * resource monitor (resource-monitor.ts), and the agent's WebSocket on the hibernation API
 * (agent-link.ts). Every state change is pushed to the session's live status stream. The alarm
 * (host-alarm.ts) retries commands and enforces leases (leaked ports), idle timeouts, session
 * TTLs and keep-alive. This class owns the parts and is the only way in: each entry point
 * waits for start-up, delegates, and returns.
 */
export class RdpHostDO extends SqlDurableObject<typeof schema, Env> {
  readonly #alarm: HostAlarm;
  readonly #link: AgentLink;
  readonly #desktops: Desktops;
  readonly #monitor: ResourceMonitor;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
    const host = new Host(ctx, env, this.db, new HostMetrics(env));
    const schedule = () => this.#alarm.schedule();
    const commands = new CommandQueue(
      this.db,
      () => {
        const agent = host.agent();
        return agent?.att.helloed ? agent.ws : null;
      },
      (name, labels) => host.count(name, labels),
    );
    const controller = new ServerController(host, commands, schedule);
    this.#alarm = new HostAlarm(host, controller, commands);
    this.#monitor = new ResourceMonitor(host, controller, commands);
    this.#link = new AgentLink(host, controller, commands, this.#monitor, schedule);
    this.#desktops = new Desktops(host, controller, commands, schedule);
    // Pings are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // ---- agent channel ------------------------------------------------------------------------

  /** The route has verified the node credential and passes the host id and the node's public key. */
  override async fetch(request: Request): Promise<Response> {
    await this.ready();
    return this.#link.accept(request);
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    await this.ready();
    await this.#link.message(ws, raw);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.ready();
    this.#link.close(ws, code);
  }

  // ---- RPC: servers -------------------------------------------------------------------------

  /** Allocates a port and starts a desktop for a session (see Desktops.create). */
  async createDesktop(input: DesktopInput): Promise<Outcome<Desktop>> {
    await this.ready();
    return this.#desktops.create(input);
  }

  async getServer(serverId: string, actor: RdpActor): Promise<Outcome<ServerView>> {
    await this.ready();
    return this.#desktops.get(serverId, actor);
  }

  /** All servers (operator/admin listing), newest first, optionally only live ones. */
  async listServers(options: { liveOnly: boolean; ownerId?: string }): Promise<ServerView[]> {
    await this.ready();
    return this.#desktops.list(options);
  }

  async listAlerts(limit: number): Promise<AlertView[]> {
    await this.ready();
    return this.#desktops.alerts(limit);
  }

  /** A server's resource reports since `since` (ms), oldest first; null when the host has no such server. */
  async resourceHistory(serverId: string, since: number, limit: number): Promise<ReportPoint[] | null> {
    await this.ready();
    return this.#monitor.history(serverId, since, limit);
  }

  async hostStatus(): ReturnType<Desktops["status"]> {
    await this.ready();
    return this.#desktops.status();
  }

  /** New one-time credentials for the owner (or an admin): the old password stops working. */
  async issueCredentials(serverId: string, actor: RdpActor): Promise<Outcome<Desktop>> {
    await this.ready();
    return this.#desktops.issueCredentials(serverId, actor);
  }

  /** Hands the desktop to another user; the current password is replaced, so the old owner is out. */
  async transfer(serverId: string, actor: RdpActor, toUserId: string): Promise<Outcome<ServerView>> {
    await this.ready();
    return this.#desktops.transfer(serverId, actor, toUserId);
  }

  /** What a migration needs to recreate the desktop elsewhere (owner or admin only). */
  async migrationSource(
    serverId: string,
    actor: RdpActor,
  ): Promise<Outcome<{ sessionId: string; ownerId: string; config: ServerConfig; limits: ServerLimits }>> {
    await this.ready();
    return this.#desktops.migrationSource(serverId, actor);
  }

  /** Stops the old desktop of a migration once the new one exists. */
  async migrated(serverId: string, toHostId: string): Promise<ServerView | null> {
    await this.ready();
    return this.#desktops.migrated(serverId, toHostId);
  }

  async stop(serverId: string, actor: RdpActor, destroy: boolean): Promise<Outcome<ServerView>> {
    await this.ready();
    return this.#desktops.stop(serverId, actor, destroy);
  }

  /** Operator/admin reclaim of a port whose server the agent cannot stop (see Desktops.releasePort). */
  async releasePort(serverId: string, actor: RdpActor): Promise<Outcome<ServerView>> {
    await this.ready();
    return this.#desktops.releasePort(serverId, actor);
  }

  async updateLimits(serverId: string, actor: RdpActor, limits: ServerLimits): Promise<Outcome<ServerView>> {
    await this.ready();
    return this.#desktops.updateLimits(serverId, actor, limits);
  }

  /** A message to the desktop's user (admins, operators, e.g. maintenance); acked like any command. */
  async notify(serverId: string, actor: RdpActor, level: "info" | "warning", message: string): Promise<Outcome<{ commandId: string }>> {
    await this.ready();
    return this.#desktops.notify(serverId, actor, level, message);
  }

  async commandStatus(commandId: string): Promise<{ status: string; attempts: number; error: string | null } | null> {
    await this.ready();
    return this.#desktops.commandStatus(commandId);
  }

  // ---- alarm: retries, leases, idle, TTL, keep-alive -----------------------------------------

  override async alarm(): Promise<void> {
    await this.ready();
    await this.#alarm.run();
  }
}
