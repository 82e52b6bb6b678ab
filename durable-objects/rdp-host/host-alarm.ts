import { and, eq, inArray, isNull, lte, or, sql } from "drizzle-orm";
import { isIdle, type ConnectionState } from "../../shared/rdp/states.ts";
import type { CommandQueue, CommandRow } from "./command-queue.ts";
import type { ServerController } from "./controller.ts";
import type { Host } from "./host.ts";
import * as schema from "./schema.ts";
import { wakeBy } from "../scheduler.ts";

const { servers } = schema;

/** Keep-alive: a socket silent for this many keep-alive periods is closed as dead. */
const DEAD_AFTER_KEEPALIVES = 3;

/**
 * The host's one alarm: command retries (and giving up on an agent that never acks), leases
 * (leaked ports), idle timeouts, session TTLs and the agent's keep-alive. `schedule` sets it
 * to the next moment any of them is due.
 */
export class HostAlarm {
  constructor(
    private readonly host: Host,
    private readonly controller: ServerController,
    private readonly commands: CommandQueue,
  ) {}

  async run(): Promise<void> {
    const config = this.host.config;
    const now = Date.now();
    const agent = this.host.agent();

    if (
      agent &&
      now - Math.max(agent.att.lastMessageAt, this.#lastPing(agent.ws)) > DEAD_AFTER_KEEPALIVES * config.RDP_KEEPALIVE_SECONDS * 1000
    ) {
      agent.ws.close(1001, "keep-alive timeout");
    } else if (agent?.att.helloed) {
      for (const row of this.commands.due(now)) {
        if (row.attempts >= config.RDP_COMMAND_MAX_ATTEMPTS) await this.#expire(row);
        else this.commands.deliver(agent.ws, row);
      }
    }

    // Leaked allocations: a server that did not come up within its lease gives its port back.
    const leaked = this.host.db
      .select()
      .from(servers)
      .where(and(inArray(servers.state, ["created", "starting"]), lte(servers.leaseExpiresAt, now)))
      .all();
    for (const row of leaked) {
      this.host.count("lucid_rdp_ports_reclaimed_total", { by: "lease" });
      const start = this.commands.forServer(row.id, "server.start", true);
      if (start) this.commands.settle(start, "expired", "lease expired");
      await this.controller.fail(row, "start-timeout");
      if (start && start.attempts > 0)
        this.commands.enqueue({ kind: "server.stop", serverId: row.id, reason: "start-timeout", destroy: true });
    }

    const running = this.host.db.select().from(servers).where(eq(servers.state, "running")).all();
    for (const row of running) {
      if (row.expiresAt !== null && row.expiresAt <= now) await this.controller.terminate(row, "ttl-expired");
      else if (
        isIdle(row.connection as ConnectionState | null) &&
        row.idleSince !== null &&
        row.idleSince + config.RDP_IDLE_TIMEOUT_SECONDS * 1000 <= now
      ) {
        await this.controller.terminate(row, "idle-timeout");
      }
    }
    await this.schedule();
    await this.host.metrics.flush(true);
  }

  /** An agent that never acks: the command is given up and its server failed (port released). */
  async #expire(row: CommandRow): Promise<void> {
    this.commands.settle(row, "expired", `no ack after ${row.attempts} deliveries`);
    this.host.count("lucid_rdp_commands_expired_total", { kind: row.kind });
    const server = this.host.server(row.serverId);
    if (!server) return;
    // A failed server gives its port back; the next hello reconciles what the agent still runs.
    if (row.kind === "server.start" || row.kind === "server.stop") await this.controller.fail(server, "agent-unresponsive");
  }

  #lastPing(ws: WebSocket): number {
    return this.host.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
  }

  /** The next moment something is due: a retry, a lease, an idle or TTL deadline, a keep-alive check. */
  async schedule(): Promise<void> {
    const config = this.host.config;
    const deadlines: number[] = [];
    const agent = this.host.agent();
    if (agent) {
      deadlines.push(
        Math.max(agent.att.lastMessageAt, this.#lastPing(agent.ws)) + DEAD_AFTER_KEEPALIVES * config.RDP_KEEPALIVE_SECONDS * 1000 + 1,
      );
      if (agent.att.helloed) {
        const next = this.commands.nextAttemptAt();
        if (next !== null) deadlines.push(next);
      }
    }
    const idleConnection = or(isNull(servers.connection), inArray(servers.connection, ["connected", "idle", "disconnected"]));
    const soonest = this.host.db
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
    const storage = this.host.ctx.storage;
    if (!deadlines.length) {
      await storage.deleteAlarm();
      return;
    }
    await wakeBy(storage, Math.min(...deadlines), { notBefore: Date.now() + 10, replacePast: true });
  }
}
