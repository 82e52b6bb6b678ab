/**
 * A node's lifecycle. `registering` until its first accepted heartbeat; then online as
 * `active` (accepting sessions), `idle` (online, not accepting) or `working` (hosting sessions),
 * chosen by each heartbeat; `offline` when heartbeats stop (the pool's alarm); `suspended` by an
 * admin; `terminated` for good. Every change is validated here and logged by the pool.
 */
export const NODE_STATES = ["registering", "active", "idle", "working", "offline", "suspended", "terminated"] as const;
export type NodeState = (typeof NODE_STATES)[number];

const ONLINE = ["active", "idle", "working"] as const;

export const NODE_TRANSITIONS: Record<NodeState, readonly NodeState[]> = {
  registering: [...ONLINE, "offline", "suspended", "terminated"],
  active: ["idle", "working", "offline", "suspended", "terminated"],
  idle: ["active", "working", "offline", "suspended", "terminated"],
  working: ["active", "idle", "offline", "suspended", "terminated"],
  offline: [...ONLINE, "suspended", "terminated"],
  // Reinstating puts a node offline: its next good heartbeat brings it back.
  suspended: ["offline", "terminated"],
  terminated: [],
};

export function canTransition(from: NodeState, to: NodeState): boolean {
  return NODE_TRANSITIONS[from].includes(to);
}

export function isOnline(state: NodeState): boolean {
  return (ONLINE as readonly NodeState[]).includes(state);
}

/** Nodes in these states may send heartbeats. */
export function acceptsHeartbeats(state: NodeState): boolean {
  return state === "registering" || state === "offline" || isOnline(state);
}

/** The online state a heartbeat's report asks for. */
export function stateFromReport(report: { sessionsHosted: number; accepting: boolean }): NodeState {
  if (report.sessionsHosted > 0) return "working";
  return report.accepting ? "active" : "idle";
}
