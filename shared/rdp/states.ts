import type { CONNECTION_STATES } from "./protocol.ts";

/**
 * RDP server lifecycle (RdpHostDO) and connection states (the controller), shared by the
 * Worker, the dashboard and the agent.
 *
 *   server:     created → starting → running → stopping → stopped → destroyed
 *               created | starting | running | stopping → failed → destroyed
 *   connection: connecting → connected → active ↔ idle → disconnected → terminated
 *               disconnected → connecting (the user reconnects); any → terminated
 */
export const SERVER_LIFECYCLE = ["created", "starting", "running", "stopping", "stopped", "failed", "destroyed"] as const;
export type ServerState = (typeof SERVER_LIFECYCLE)[number];

const SERVER_NEXT: Record<ServerState, readonly ServerState[]> = {
  created: ["starting", "stopping", "stopped", "failed"],
  starting: ["running", "stopping", "stopped", "failed"],
  running: ["stopping", "stopped", "failed"],
  stopping: ["stopped", "failed"],
  stopped: ["destroyed"],
  failed: ["destroyed"],
  destroyed: [],
};

/** States in which a server holds its port. */
export const HOLDS_PORT: readonly ServerState[] = ["created", "starting", "running", "stopping"];

export function canMoveServer(from: ServerState, to: ServerState): boolean {
  return SERVER_NEXT[from].includes(to);
}

export type ConnectionState = (typeof CONNECTION_STATES)[number] | "terminated";

const CONNECTION_NEXT: Record<ConnectionState, readonly ConnectionState[]> = {
  connecting: ["connected", "disconnected", "terminated"],
  connected: ["active", "idle", "disconnected", "terminated"],
  active: ["idle", "disconnected", "terminated"],
  idle: ["active", "disconnected", "terminated"],
  disconnected: ["connecting", "terminated"],
  terminated: [],
};

/** `from` null: no connection yet, only `connecting` (or an immediate terminate) may follow. */
export function canMoveConnection(from: ConnectionState | null, to: ConnectionState): boolean {
  if (from === null) return to === "connecting" || to === "terminated";
  return CONNECTION_NEXT[from].includes(to);
}

/** Connection states that count towards the idle timeout. */
export function isIdle(connection: ConnectionState | null): boolean {
  return connection === null || connection === "connected" || connection === "idle" || connection === "disconnected";
}
