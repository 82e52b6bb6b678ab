import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { CommandBody, ResourceReport, ServerConfig, ServerLimits } from "../../shared/rdp/protocol.ts";

/**
 * One Pi host's RDP servers, the commands queued for its agent, and the monitor's alerts.
 * A server holds a port while `port` is not null; the unique index makes a double allocation
 * impossible even if the code were wrong.
 */
export const servers = sqliteTable(
  "servers",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id").notNull(),
    ownerId: text("owner_id").notNull(),
    port: integer("port"),
    /** created → starting → running → stopping → stopped → destroyed; failed from any live state. */
    state: text("state").notNull(),
    /** connecting → connected → active ↔ idle → disconnected → terminated; null before the first connection. */
    connection: text("connection"),
    config: text("config", { mode: "json" }).$type<ServerConfig>().notNull(),
    limits: text("limits", { mode: "json" }).$type<ServerLimits>().notNull(),
    createdAt: integer("created_at").notNull(),
    stateChangedAt: integer("state_changed_at").notNull(),
    /** A server not running by then is a leak: the alarm fails it and reclaims its port. */
    leaseExpiresAt: integer("lease_expires_at"),
    startedAt: integer("started_at"),
    /** Maximum session time: startedAt + limits.sessionTtlSeconds. */
    expiresAt: integer("expires_at"),
    /** Since when nobody is active on the desktop (null while active). */
    idleSince: integer("idle_since"),
    /** Consecutive resource reports over a limit. */
    strikes: integer("strikes").notNull().default(0),
    /** The last report's figures (without its kind and server id). */
    lastReport: text("last_report", { mode: "json" }).$type<Omit<ResourceReport, "kind" | "serverId">>(),
    lastReportAt: integer("last_report_at"),
    endReason: text("end_reason"),
    /** Where a migrated server went (host id). */
    migratedTo: text("migrated_to"),
  },
  (t) => [uniqueIndex("servers_port").on(t.port), index("servers_state").on(t.state), index("servers_session").on(t.sessionId)],
);

export const commands = sqliteTable(
  "commands",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull(),
    serverId: text("server_id").notNull(),
    kind: text("kind").notNull(),
    /** The CommandBody JSON; secrets (passwords) are blanked once the command is acked or given up. */
    body: text("body", { mode: "json" }).$type<CommandBody>().notNull(),
    /** pending → done | failed | expired */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    issuedAt: integer("issued_at").notNull(),
    nextAttemptAt: integer("next_attempt_at"),
    ackedAt: integer("acked_at"),
    error: text("error"),
  },
  (t) => [uniqueIndex("commands_id").on(t.id), index("commands_status").on(t.status, t.nextAttemptAt)],
);

export const alerts = sqliteTable(
  "alerts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    serverId: text("server_id").notNull(),
    level: text("level").notNull(),
    metric: text("metric").notNull(),
    value: integer("value").notNull(),
    limit: integer("limit_value").notNull(),
    message: text("message").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("alerts_at").on(t.at)],
);

/**
 * The agent's resource reports per server, kept for a day (resource-monitor.ts prunes older ones
 * as new ones arrive) so the dashboard can plot CPU and memory over time.
 */
export const resourceReports = sqliteTable(
  "resource_reports",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    serverId: text("server_id").notNull(),
    at: integer("at").notNull(),
    cpuPercent: real("cpu_percent").notNull(),
    memoryMb: real("memory_mb").notNull(),
    diskMb: real("disk_mb").notNull(),
    rxKbps: real("rx_kbps").notNull(),
    txKbps: real("tx_kbps").notNull(),
  },
  (t) => [index("resource_reports_server_at").on(t.serverId, t.at), index("resource_reports_at").on(t.at)],
);

/** Single row: what the agent last told about itself. */
export const host = sqliteTable("host", {
  id: text("id").primaryKey(),
  address: text("address"),
  agentVersion: text("agent_version"),
  connectedAt: integer("connected_at"),
  lastSeenAt: integer("last_seen_at"),
});
