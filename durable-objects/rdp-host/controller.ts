import { eq } from "drizzle-orm";
import { logEvent } from "../../shared/log.ts";
import { canMoveConnection, canMoveServer, HOLDS_PORT, isIdle, type ConnectionState, type ServerState } from "../../shared/rdp/states.ts";
import type { CommandQueue } from "./command-queue.ts";
import type { Host } from "./host.ts";
import * as schema from "./schema.ts";
import type { ServerRow } from "./views.ts";
import { objectNamed } from "../../platform/objects.ts";

const { servers } = schema;

/** States in which a server is (or is about to be) a desktop. */
export const LIVE: ServerState[] = ["created", "starting", "running", "stopping"];

/**
 * The servers' state machine (shared/rdp/states.ts): every server and connection transition
 * goes through here, is counted and logged, and is pushed to the session's live status stream.
 */
export class ServerController {
  #notifications: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: Host,
    private readonly commands: CommandQueue,
    /** Re-arms the alarm after a change that moves a deadline. */
    private readonly schedule: () => Promise<void>,
  ) {}

  async move(row: ServerRow, to: ServerState, reason: string | null, extra: Partial<ServerRow> = {}): Promise<ServerRow> {
    const from = row.state as ServerState;
    if (from === to && Object.keys(extra).length === 0) return row;
    if (from !== to && !canMoveServer(from, to)) return row;
    const now = Date.now();
    const set: Partial<ServerRow> = { ...extra, state: to, stateChangedAt: now };
    if (!HOLDS_PORT.includes(to)) set.port = null;
    if (reason !== null && row.endReason === null && (to === "stopping" || to === "stopped" || to === "failed")) set.endReason = reason;
    this.host.db.update(servers).set(set).where(eq(servers.id, row.id)).run();
    const next = this.host.server(row.id)!;
    if (from !== to) {
      this.host.count("lucid_rdp_server_transitions_total", { to });
      logEvent("info", "rdp.server.transition", { serverId: row.id, from, to, reason }, this.host.config.LOG_LEVEL);
    }
    await this.notifySession(next, reason);
    return next;
  }

  async running(row: ServerRow): Promise<void> {
    if (row.state !== "starting" && row.state !== "created") return;
    const now = Date.now();
    const limits = row.limits;
    await this.move(row, "running", null, {
      startedAt: now,
      expiresAt: now + limits.sessionTtlSeconds * 1000,
      idleSince: now,
      leaseExpiresAt: null,
    });
    await this.schedule();
  }

  async stopped(row: ServerRow, destroy: boolean): Promise<void> {
    let current = row;
    if (current.connection !== "terminated" && current.connection !== null) current = await this.setConnection(current, "terminated");
    if (LIVE.includes(current.state as ServerState)) current = await this.move(current, "stopped", "stopped");
    if (destroy && (current.state === "stopped" || current.state === "failed")) await this.move(current, "destroyed", null);
  }

  async fail(row: ServerRow, reason: string): Promise<void> {
    if (!LIVE.includes(row.state as ServerState)) return;
    this.host.count("lucid_rdp_server_failures_total", { reason: reason.split(":")[0]! });
    await this.move(row, "failed", reason);
  }

  async setConnection(row: ServerRow, to: ConnectionState): Promise<ServerRow> {
    const idleSince = to === "active" ? null : isIdle(to) ? (row.idleSince ?? Date.now()) : row.idleSince;
    this.host.db.update(servers).set({ connection: to, idleSince }).where(eq(servers.id, row.id)).run();
    return this.host.server(row.id)!;
  }

  async connection(row: ServerRow, to: ConnectionState, reason: string | null): Promise<void> {
    if (row.state !== "running") return;
    if (!canMoveConnection(row.connection as ConnectionState | null, to)) return;
    const next = await this.setConnection(row, to);
    this.host.count("lucid_rdp_connection_transitions_total", { to });
    await this.notifySession(next, reason);
    await this.schedule();
  }

  /** Ends a desktop: connection terminated, server stopping, a stop command to the agent. */
  async terminate(row: ServerRow, reason: string, destroy = false): Promise<ServerRow> {
    if (!LIVE.includes(row.state as ServerState) || row.state === "stopping") return row;
    this.host.count("lucid_rdp_terminations_total", { reason });
    let current = row;
    if (current.connection !== null && current.connection !== "terminated") {
      this.host.db.update(servers).set({ connection: "terminated" }).where(eq(servers.id, row.id)).run();
      current = this.host.server(row.id)!;
    }
    const start = this.commands.forServer(row.id, "server.start", false);
    if (current.state === "created" || (current.state === "starting" && start?.attempts === 0)) {
      // The agent never saw the start: cancel it, nothing to stop there.
      if (start?.status === "pending") this.commands.settle(start, "expired", `cancelled: ${reason}`);
      const stopped = await this.move(current, "stopped", reason);
      return destroy ? this.move(stopped, "destroyed", null) : stopped;
    }
    this.commands.enqueue({ kind: "server.stop", serverId: row.id, reason, destroy });
    const next = await this.move(current, "stopping", reason, { leaseExpiresAt: null });
    await this.schedule();
    return next;
  }

  /**
   * Pushes a state change to the session's live status stream. Queued, not awaited: a call out
   * of a DO waits for its pending writes to commit, which would serialise every allocation on
   * the disk. One chain per object keeps the changes in order.
   */
  async notifySession(row: ServerRow, reason: string | null): Promise<void> {
    const update = {
      serverId: row.id,
      hostId: this.host.id(),
      server: row.state,
      connection: row.connection,
      reason: reason ?? row.endReason,
      at: new Date().toISOString(),
    };
    const session = objectNamed(this.host.env, "SESSIONS", row.sessionId);
    this.#notifications = this.#notifications
      .then(async () => {
        await session.rdpStatus(update);
      })
      .then(
        () => {},
        (error: unknown) =>
          logEvent("warn", "rdp.session_notify_failed", { serverId: row.id, error: String(error) }, this.host.config.LOG_LEVEL),
      );
    this.host.ctx.waitUntil(this.#notifications);
  }
}
