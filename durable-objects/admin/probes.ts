import type { Env } from "../../platform/env.ts";
import type { AlertsConfig } from "../../shared/admin.ts";
import type { Config } from "../../shared/config.ts";
import { isOnline, type NodeState } from "../../shared/nodes/states.ts";
import type { Report } from "../../shared/nodes/protocol.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

/**
 * What the health checks (functions/system/registry.ts) and the alert rules (AdminDO's monitor)
 * both look at: the TRON node behind the breaker, the chain's progress against its slot time, and
 * the nodes' last heartbeats. Each probe asks the Durable Object that owns the facts, and turns
 * them into a status with the reason; the callers only add their timeout and their alerts.
 */
export type ProbeStatus = "up" | "degraded" | "down";

export interface TronProbe {
  status: ProbeStatus;
  detail: string;
  breaker: "closed" | "open" | "half-open";
  reachable: boolean;
}

export async function probeTron(env: Env, limits: Pick<AlertsConfig, "tronProbeTimeoutMs">): Promise<TronProbe> {
  const health = await singleton(env, "LEDGER").tronHealth(limits.tronProbeTimeoutMs);
  if (health.breaker === "open")
    return { status: "down", detail: `TRON ${health.error ?? "circuit breaker open"}`, breaker: health.breaker, reachable: false };
  if (!health.reachable)
    return { status: "down", detail: `TRON node unreachable: ${health.error}`, breaker: health.breaker, reachable: false };
  const slow = health.latencyMs !== null && health.latencyMs > limits.tronProbeTimeoutMs / 2;
  const detail = `TRON block ${health.block} in ${health.latencyMs} ms, breaker ${health.breaker}`;
  return { status: slow || health.breaker === "half-open" ? "degraded" : "up", detail, breaker: health.breaker, reachable: true };
}

export interface ChainProbe {
  status: ProbeStatus;
  detail: string;
  /** How long production has been owed (oldest waiting transaction, or the head's age with empty blocks on), in slots. */
  lagSlots: number;
  headAgeSeconds: number;
  height: number;
}

/**
 * With CHAIN_EMPTY_BLOCKS off, an idle chain makes no blocks and an old head means nothing; what
 * shows a stalled producer is work waiting: the oldest transaction in the mempool. With empty
 * blocks on, the head itself must move every slot.
 */
export async function probeChain(
  env: Env,
  config: Config,
  limits: Pick<AlertsConfig, "chainStallSlots">,
  now = Date.now(),
): Promise<ChainProbe> {
  const stats = await singleton(env, "CHAIN").stats();
  const slotMs = stats.slotSeconds * 1000;
  const headAgeMs = Math.max(0, now - stats.headTime);
  const owedSince = config.CHAIN_EMPTY_BLOCKS
    ? stats.headTime
    : stats.oldestPendingAt !== null
      ? Math.max(stats.oldestPendingAt, stats.headTime)
      : null;
  const lagSlots = owedSince === null ? 0 : Math.max(0, Math.floor((now - owedSince) / slotMs));
  const head = `height ${stats.height}, head ${Math.round(headAgeMs / 1000)} s old, ${stats.mempool} waiting`;
  if (lagSlots >= limits.chainStallSlots)
    return {
      status: "down",
      detail: `stalled: no block for ${lagSlots} slots with work owed (${head})`,
      lagSlots,
      headAgeSeconds: headAgeMs / 1000,
      height: stats.height,
    };
  if (lagSlots >= 2)
    return {
      status: "degraded",
      detail: `behind: ${lagSlots} slots owed (${head})`,
      lagSlots,
      headAgeSeconds: headAgeMs / 1000,
      height: stats.height,
    };
  return { status: "up", detail: head, lagSlots, headAgeSeconds: headAgeMs / 1000, height: stats.height };
}

export const AGENT_SERVICES = ["recorder", "chunkProcessor", "xrdp"] as const;
export type AgentService = (typeof AGENT_SERVICES)[number];

export interface NodeFacts {
  id: string;
  state: NodeState;
  lastReport: Report | null;
}

export interface AgentsProbe {
  online: number;
  /** Per service: how many online nodes' last heartbeat reports it healthy, and the status that share gives. */
  services: Record<AgentService, { healthy: number; status: ProbeStatus; detail: string }>;
}

export async function listNodeFacts(env: Env): Promise<NodeFacts[]> {
  const directory = singleton(env, "NODE_DIRECTORY");
  const pools = await directory.listPools();
  const lists = await Promise.all(pools.map((p) => objectNamed(env, "NODE_POOLS", p.name).listNodes()));
  return lists.flat().map((n) => ({ id: n.id, state: n.state, lastReport: n.lastReport }));
}

/**
 * The agent-side services (session recorder, chunk processor, XRDP) as the online nodes' last
 * heartbeats report them: `up` while at least `agentsUpPercent` of them say healthy, `degraded`
 * while some do, `down` when none does; `degraded` when no node is online (nothing can record).
 */
export function agentsFromNodes(nodes: readonly NodeFacts[], limits: Pick<AlertsConfig, "agentsUpPercent">): AgentsProbe {
  const online = nodes.filter((n) => isOnline(n.state));
  const services = {} as AgentsProbe["services"];
  for (const service of AGENT_SERVICES) {
    const healthy = online.filter((n) => n.lastReport?.services?.[service] === true).length;
    const silent = online.filter((n) => n.lastReport?.services === undefined).length;
    const share = online.length === 0 ? 0 : (healthy * 100) / online.length;
    // No node online: nothing records, but nothing on the nodes failed either (a fresh install): degraded.
    const status: ProbeStatus =
      online.length === 0 ? "degraded" : healthy === 0 ? "down" : share >= limits.agentsUpPercent ? "up" : "degraded";
    const detail =
      online.length === 0
        ? "no node is online"
        : `${healthy} of ${online.length} online node(s) report it healthy${silent ? ` (${silent} do not report services)` : ""}`;
    services[service] = { healthy, status, detail };
  }
  return { online: online.length, services };
}
