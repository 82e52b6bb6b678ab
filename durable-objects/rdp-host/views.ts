import type { ConnectionState, ServerState } from "../../shared/rdp/states.ts";
import type { alerts, servers } from "./schema.ts";

/** JSON-safe views of the host's rows: times as ISO strings. */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export type ServerRow = typeof servers.$inferSelect;

export function serverView(row: ServerRow, hostId: string) {
  return {
    id: row.id,
    hostId,
    sessionId: row.sessionId,
    ownerId: row.ownerId,
    port: row.port,
    state: row.state as ServerState,
    connection: row.connection as ConnectionState | null,
    config: row.config,
    limits: row.limits,
    createdAt: iso(row.createdAt)!,
    stateChangedAt: iso(row.stateChangedAt)!,
    startedAt: iso(row.startedAt),
    expiresAt: iso(row.expiresAt),
    idleSince: iso(row.idleSince),
    strikes: row.strikes,
    lastReport: row.lastReport,
    lastReportAt: iso(row.lastReportAt),
    endReason: row.endReason,
    migratedTo: row.migratedTo,
  };
}
export type ServerView = ReturnType<typeof serverView>;

export function alertView(row: typeof alerts.$inferSelect, hostId: string) {
  return {
    id: row.id,
    hostId,
    serverId: row.serverId,
    level: row.level as "warning" | "critical",
    metric: row.metric,
    value: row.value,
    limit: row.limit,
    message: row.message,
    at: iso(row.at)!,
  };
}
export type AlertView = ReturnType<typeof alertView>;
