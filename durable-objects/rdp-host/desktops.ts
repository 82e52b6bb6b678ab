import { and, desc, eq, inArray } from "drizzle-orm";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { ServerConfig, ServerLimits } from "../../shared/rdp/protocol.ts";
import type { ServerState } from "../../shared/rdp/states.ts";
import { rdpRefusal, type RdpAccess, type RdpActor } from "./access.ts";
import { oneTimePassword, randomHex } from "./channel.ts";
import type { CommandQueue } from "./command-queue.ts";
import { LIVE, type ServerController } from "./controller.ts";
import type { Host } from "./host.ts";
import { freePort } from "./port-pool.ts";
import * as schema from "./schema.ts";
import { alertView, type AlertView, type ServerRow, type ServerView } from "./views.ts";

const { servers, alerts, host } = schema;

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

/**
 * What users, operators and admins ask of a host (RdpHostDO's RPC methods): allocate a port and
 * start a desktop, hand out credentials, transfer, migrate, stop, reclaim a port, change limits,
 * notify, and the listings. Access rules in access.ts; transitions through the controller.
 */
export class Desktops {
  constructor(
    private readonly host: Host,
    private readonly controller: ServerController,
    private readonly commands: CommandQueue,
    private readonly schedule: () => Promise<void>,
  ) {}

  /**
   * Allocates a port and starts a desktop for a session: the server is `starting` until the
   * agent acks the start (or reports it listening). A session may hold several desktops
   * (a migration overlaps the old and the new one).
   */
  async create(input: DesktopInput): Promise<Outcome<Desktop>> {
    this.host.ensure(input.hostId);
    const agent = this.host.agent();
    if (!agent?.att.helloed) return refuse("host-offline", `The agent of host ${input.hostId} is not connected.`, { hostId: input.hostId });
    const config = this.host.config;
    const port = freePort(this.host.ctx.storage.sql, config, agent.att.ports);
    if (port === null) {
      this.host.count("lucid_rdp_pool_exhausted_total", {});
      await this.host.metrics.flush(true);
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
    this.host.ctx.storage.transactionSync(() => {
      this.host.db
        .insert(servers)
        .values({
          id,
          sessionId: input.sessionId,
          ownerId: input.ownerId,
          port,
          state: "created",
          config: serverConfig,
          limits: input.limits,
          createdAt: now,
          stateChangedAt: now,
          leaseExpiresAt: now + config.RDP_START_TIMEOUT_SECONDS * 1000,
        })
        .run();
    });
    this.host.count("lucid_rdp_servers_created_total", { backend: serverConfig.backend });
    const created = await this.controller.move(this.host.server(id)!, "starting", null);
    this.commands.enqueue({
      kind: "server.start",
      serverId: id,
      sessionId: input.sessionId,
      port,
      config: serverConfig,
      limits: input.limits,
      password,
    });
    await this.schedule();
    await this.host.metrics.flush();
    return ok({
      server: this.host.view(this.host.server(created.id)!),
      host: this.host.address(),
      port,
      username: serverConfig.user,
      password,
    });
  }

  #authorized(serverId: string, actor: RdpActor, access: RdpAccess): Outcome<ServerRow> {
    const row = this.host.server(serverId);
    if (!row) return refuse("not-found", "No such RDP server.");
    const refusal = rdpRefusal(actor, access, row.ownerId);
    return refusal ? { ok: false, problem: refusal } : ok(row);
  }

  get(serverId: string, actor: RdpActor): Outcome<ServerView> {
    const row = this.#authorized(serverId, actor, "view");
    return row.ok ? ok(this.host.view(row.value)) : row;
  }

  /** All servers (operator/admin listing), newest first, optionally only live ones. */
  list(options: { liveOnly: boolean; ownerId?: string }): ServerView[] {
    const conditions = [
      ...(options.liveOnly ? [inArray(servers.state, LIVE)] : []),
      ...(options.ownerId ? [eq(servers.ownerId, options.ownerId)] : []),
    ];
    return this.host.db
      .select()
      .from(servers)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(desc(servers.createdAt))
      .limit(1000)
      .all()
      .map((row) => this.host.view(row));
  }

  alerts(limit: number): AlertView[] {
    const hostId = this.host.id();
    return this.host.db
      .select()
      .from(alerts)
      .orderBy(desc(alerts.id))
      .limit(limit)
      .all()
      .map((row) => alertView(row, hostId));
  }

  async status(): Promise<{
    hostId: string;
    connected: boolean;
    address: string | null;
    agentVersion: string | null;
    lastSeenAt: string | null;
    serversLive: number;
    pendingCommands: number;
  }> {
    const row = this.host.db.select().from(host).get();
    const live = await this.host.db.$count(servers, inArray(servers.state, LIVE));
    const pending = await this.commands.pendingCount();
    return {
      hostId: row?.id ?? "",
      connected: this.host.agent()?.att.helloed ?? false,
      address: row?.address ?? null,
      agentVersion: row?.agentVersion ?? null,
      lastSeenAt: row?.lastSeenAt ? new Date(row.lastSeenAt).toISOString() : null,
      serversLive: live,
      pendingCommands: pending,
    };
  }

  /** New one-time credentials for the owner (or an admin): the old password stops working. */
  async issueCredentials(serverId: string, actor: RdpActor): Promise<Outcome<Desktop>> {
    const row = this.#authorized(serverId, actor, "control");
    if (!row.ok) return row;
    const server = row.value;
    if (server.state !== "running" && server.state !== "starting") {
      return refuse("invalid-state", `The server is ${server.state}; only a starting or running desktop can be connected to.`, {
        state: server.state,
      });
    }
    const password = oneTimePassword();
    this.commands.enqueue({ kind: "server.credentials", serverId, password });
    await this.schedule();
    const config = server.config;
    return ok({ server: this.host.view(server), host: this.host.address(), port: server.port!, username: config.user, password });
  }

  /** Hands the desktop to another user; the current password is replaced, so the old owner is out. */
  async transfer(serverId: string, actor: RdpActor, toUserId: string): Promise<Outcome<ServerView>> {
    const row = this.#authorized(serverId, actor, "control");
    if (!row.ok) return row;
    const server = row.value;
    if (!LIVE.includes(server.state as ServerState) || server.state === "stopping") {
      return refuse("invalid-state", `The server is ${server.state}.`, { state: server.state });
    }
    if (toUserId === server.ownerId) return refuse("conflict", "The desktop already belongs to this user.");
    this.host.db.update(servers).set({ ownerId: toUserId }).where(eq(servers.id, serverId)).run();
    this.commands.enqueue({ kind: "server.credentials", serverId, password: oneTimePassword() });
    await this.schedule();
    const next = this.host.server(serverId)!;
    await this.controller.notifySession(next, `transferred`);
    return ok(this.host.view(next));
  }

  /** What a migration needs to recreate the desktop elsewhere (owner or admin only). */
  migrationSource(
    serverId: string,
    actor: RdpActor,
  ): Outcome<{ sessionId: string; ownerId: string; config: ServerConfig; limits: ServerLimits }> {
    const row = this.#authorized(serverId, actor, "control");
    if (!row.ok) return row;
    const server = row.value;
    if (server.state !== "running" && server.state !== "starting")
      return refuse("invalid-state", `The server is ${server.state}.`, { state: server.state });
    return ok({
      sessionId: server.sessionId,
      ownerId: server.ownerId,
      config: server.config,
      limits: server.limits,
    });
  }

  /** Stops the old desktop of a migration once the new one exists. */
  async migrated(serverId: string, toHostId: string): Promise<ServerView | null> {
    const row = this.host.server(serverId);
    if (!row) return null;
    this.host.db.update(servers).set({ migratedTo: toHostId }).where(eq(servers.id, serverId)).run();
    const next = await this.controller.terminate(this.host.server(serverId)!, "migrated", true);
    await this.host.metrics.flush(true);
    return this.host.view(next);
  }

  async stop(serverId: string, actor: RdpActor, destroy: boolean): Promise<Outcome<ServerView>> {
    const row = this.#authorized(serverId, actor, destroy ? "destroy" : "stop");
    if (!row.ok) return row;
    let server = row.value;
    if (server.state === "destroyed") return refuse("invalid-state", "The server is already destroyed.", { state: server.state });
    if (destroy && (server.state === "stopped" || server.state === "failed")) {
      this.commands.enqueue({ kind: "server.stop", serverId, reason: "destroyed", destroy: true });
      server = await this.controller.move(server, "destroyed", null);
    } else if (server.state === "stopping") {
      if (!destroy) return refuse("invalid-state", "The server is already stopping.", { state: server.state });
      this.commands.enqueue({ kind: "server.stop", serverId, reason: "destroyed", destroy: true });
    } else if (server.state === "stopped" || server.state === "failed") {
      return refuse("invalid-state", `The server is already ${server.state}.`, { state: server.state });
    } else {
      server = await this.controller.terminate(server, destroy ? "destroyed" : "requested", destroy);
    }
    await this.host.metrics.flush(true);
    return ok(this.host.view(this.host.server(serverId)!));
  }

  /**
   * Operator/admin reclaim: frees the port of a server whose agent cannot stop it (the server
   * becomes `failed`). A server that holds no port is refused: a double release changes nothing.
   */
  async releasePort(serverId: string, actor: RdpActor): Promise<Outcome<ServerView>> {
    const row = this.#authorized(serverId, actor, "destroy");
    if (!row.ok) return row;
    const server = row.value;
    if (server.port === null)
      return refuse("port-not-allocated", `Server ${serverId} holds no port (it is ${server.state}).`, { state: server.state });
    this.host.count("lucid_rdp_ports_reclaimed_total", { by: "operator" });
    await this.controller.fail(server, "released");
    // Should the agent still run it, the stop makes it go; its ack finds the server already failed.
    this.commands.enqueue({ kind: "server.stop", serverId, reason: "released", destroy: false });
    await this.schedule();
    await this.host.metrics.flush(true);
    return ok(this.host.view(this.host.server(serverId)!));
  }

  async updateLimits(serverId: string, actor: RdpActor, limits: ServerLimits): Promise<Outcome<ServerView>> {
    const row = this.#authorized(serverId, actor, "destroy");
    if (!row.ok) return row;
    const server = row.value;
    if (!LIVE.includes(server.state as ServerState))
      return refuse("invalid-state", `The server is ${server.state}.`, { state: server.state });
    const expiresAt = server.startedAt === null ? null : server.startedAt + limits.sessionTtlSeconds * 1000;
    this.host.db.update(servers).set({ limits, expiresAt, strikes: 0 }).where(eq(servers.id, serverId)).run();
    this.commands.enqueue({ kind: "server.limits", serverId, limits });
    await this.schedule();
    return ok(this.host.view(this.host.server(serverId)!));
  }

  /** A message to the desktop's user (admins, operators, e.g. maintenance); acked like any command. */
  async notify(serverId: string, actor: RdpActor, level: "info" | "warning", message: string): Promise<Outcome<{ commandId: string }>> {
    const row = this.#authorized(serverId, actor, "destroy");
    if (!row.ok) return row;
    if (row.value.state !== "running") return refuse("invalid-state", `The server is ${row.value.state}.`, { state: row.value.state });
    const commandId = this.commands.enqueue({ kind: "server.notify", serverId, level, message });
    await this.schedule();
    await this.host.metrics.flush();
    return ok({ commandId });
  }

  commandStatus(commandId: string): { status: string; attempts: number; error: string | null } | null {
    const row = this.commands.byId(commandId);
    return row ? { status: row.status, attempts: row.attempts, error: row.error } : null;
  }
}
