import type { Config } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import type { CheckResult, ServiceStatus } from "../../durable-objects/system/index.ts";
import { DEFAULT_ALERTS_CONFIG, type AlertsConfig } from "../../shared/admin.ts";
import {
  agentsFromNodes,
  listNodeFacts,
  probeChain,
  probeTron,
  type AgentService,
  type AgentsProbe,
} from "../../durable-objects/admin/probes.ts";
import { callDurableObject } from "../do-call.ts";
import { dashboardHealth } from "../dashboard/index.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

/** One round of checks: facts several checks need are fetched once (the runtime thresholds, the node list). */
export interface CheckRound {
  once<T>(key: string, load: () => Promise<T>): Promise<T>;
  /** The alert/health thresholds from the runtime configuration (defaults when AdminDO does not answer). */
  limits(): Promise<AlertsConfig>;
}

export interface FunctionCheck {
  /** Stable function name, as used in /api/v1/system/services/:name. */
  name: string;
  description: string;
  /** Resolves when healthy; throws (or reports degraded/down) otherwise. */
  check(env: Env, config: Config, round: CheckRound): Promise<{ status?: ServiceStatus; detail?: string } | void>;
}

function newRound(env: Env): CheckRound {
  const cache = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, load: () => Promise<T>): Promise<T> => {
    let entry = cache.get(key);
    if (!entry) cache.set(key, (entry = load()));
    return entry as Promise<T>;
  };
  return {
    once,
    limits: () =>
      once("limits", async () => {
        try {
          return (await singleton(env, "ADMIN").config()).config.alerts;
        } catch {
          return DEFAULT_ALERTS_CONFIG;
        }
      }),
  };
}

/** Recorder, chunk processor and XRDP run on the nodes: each is derived from the online nodes' last heartbeats. */
function agentCheck(name: string, service: AgentService, description: string): FunctionCheck {
  return {
    name,
    description,
    async check(env, _config, round) {
      const limits = await round.limits();
      const probe = await round.once<AgentsProbe>("agents", async () =>
        agentsFromNodes(await callDurableObject("NodePoolDO", "listNodes", () => listNodeFacts(env)), limits),
      );
      const { status, detail } = probe.services[service];
      return { status, detail };
    },
  };
}

export const CHECK_TIMEOUT_MS = 2_000;

/**
 * Every function registers its health check here (one list, in code: the registry is the
 * deployment). Each check must be cheap and must not change user-visible state.
 */
export const FUNCTION_CHECKS: readonly FunctionCheck[] = [
  {
    name: "gateway",
    description: "Root Hono app: routing, validation, CORS, secure headers, problem+json, request ids",
    async check() {},
  },
  {
    name: "system",
    description: "SystemDO: service registry and aggregated metrics",
    async check(env) {
      await callDurableObject("SystemDO", "ping", () => singleton(env, "SYSTEM").ping());
    },
  },
  {
    name: "rate-limiter",
    description: "RateLimiterDO: per-client request quotas",
    async check(env) {
      await callDurableObject("RateLimiterDO", "ping", () => objectNamed(env, "RATE_LIMITER", "health:probe").ping());
    },
  },
  {
    name: "chain",
    description: "ChainDO: PoOT blocks, mempool, session anchors and proofs",
    async check(env, config, round) {
      const limits = await round.limits();
      const { status, detail } = await callDurableObject("ChainDO", "stats", () => probeChain(env, config, limits));
      return { status, detail };
    },
  },
  {
    name: "auth",
    description: "Auth: UserIndexDO directory, LoginGuardDO, AuditDO (TRON login, TOTP, JWT, RBAC)",
    async check(env) {
      await Promise.all([
        callDurableObject("UserIndexDO", "ping", () => singleton(env, "USER_INDEX").ping()),
        callDurableObject("LoginGuardDO", "ping", () => objectNamed(env, "LOGIN_GUARD", "health:probe").ping()),
        callDurableObject("AuditDO", "ping", () => singleton(env, "AUDIT").ping()),
      ]);
    },
  },
  {
    name: "payments",
    description: "LedgerDO: wallets, payouts, USDT and staking on TRON (TRON client: circuit breaker and one getnowblock)",
    async check(env, _config, round) {
      const limits = await round.limits();
      const { status, detail } = await callDurableObject("LedgerDO", "tronHealth", () => probeTron(env, limits));
      return { status, detail };
    },
  },
  {
    name: "chunk-store",
    description: "Encrypted chunk storage (R2 binding CHUNKS; self-hosted: disk service CHUNK_DISK)",
    async check(env) {
      if (env.CHUNKS) {
        await env.CHUNKS.head("health/probe");
        return;
      }
      // Self-hosted workerd has no R2: the chunks live in a writable disk service (edge-adapter).
      if (!env.CHUNK_DISK) throw new Error("no chunk store is configured (neither CHUNKS nor CHUNK_DISK)");
      const res = await env.CHUNK_DISK.fetch("http://chunk-disk/", { method: "HEAD" });
      if (!res.ok) throw new Error(`the chunk disk service answered ${res.status}`);
      return { detail: "disk service CHUNK_DISK" };
    },
  },
  {
    name: "nodes",
    description: "NodeDirectoryDO + NodePoolDO: node registration, signed heartbeats, PoOT, work credits, payout accrual",
    async check(env) {
      const directory = singleton(env, "NODE_DIRECTORY");
      const pools = await callDurableObject("NodeDirectoryDO", "listPools", () => directory.listPools());
      const first = pools[0];
      if (first) await callDurableObject("NodePoolDO", "ping", () => objectNamed(env, "NODE_POOLS", first.name).ping());
      return { detail: `${pools.length} pool(s), ${pools.reduce((n, p) => n + p.nodeCount, 0)} node(s)` };
    },
  },
  {
    name: "sessions",
    description: "Session API: SessionDO (lifecycle, ingest, Merkle manifest, keys) and SessionIndexDO (listing, FTS5 search)",
    async check(env) {
      await callDurableObject("SessionIndexDO", "ping", () => singleton(env, "SESSION_INDEX").ping());
    },
  },
  {
    name: "admin",
    description: "Admin: AdminDO (emergency controls, runtime configuration, alerts, notifications) and the hash-chained AuditDO",
    async check(env) {
      const [, audit] = await Promise.all([
        callDurableObject("AdminDO", "ping", () => singleton(env, "ADMIN").ping()),
        callDurableObject("AuditDO", "anchorStatus", () => singleton(env, "AUDIT").anchorStatus()),
      ]);
      return { detail: `${audit.events} audit event(s)` };
    },
  },
  {
    name: "dashboard",
    description: "Web dashboard: the built single-page app, served from ASSETS (wrangler [assets]; self-hosted a disk service)",
    async check(env) {
      const result = await dashboardHealth(env);
      if (!result.ok) throw new Error(result.detail);
      return { detail: result.detail };
    },
  },
  {
    name: "rdp",
    description:
      "RDP control plane: RdpHostDO per Pi (port pool 13389–14389, server lifecycle, agent channel, connection states, resource monitor)",
    async check(env) {
      await callDurableObject("RdpHostDO", "ping", () => objectNamed(env, "RDP_HOSTS", "health:probe").ping());
    },
  },
  agentCheck("recorder", "recorder", "Session recorder on the nodes (lucid-agent capture), from the online nodes' heartbeats"),
  agentCheck(
    "chunk-processor",
    "chunkProcessor",
    "Chunk processor on the nodes (zstd, XChaCha20-Poly1305, upload), from the online nodes' heartbeats",
  ),
  agentCheck("xrdp", "xrdp", "XRDP on the nodes (driven by lucid-agent), from the online nodes' heartbeats"),
];

export const FUNCTION_NAMES = FUNCTION_CHECKS.map((f) => f.name) as [string, ...string[]];

/** Runs checks concurrently, each bounded by a timeout; a failure is a `down` result, never a throw. */
export async function runChecks(env: Env, config: Config, checks: readonly FunctionCheck[]): Promise<CheckResult[]> {
  const shared = newRound(env);
  return Promise.all(
    checks.map(async (fn): Promise<CheckResult> => {
      const started = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
        });
        const outcome = await Promise.race([fn.check(env, config, shared), timeout]);
        return {
          name: fn.name,
          status: outcome?.status ?? "up",
          latencyMs: round(performance.now() - started),
          detail: outcome?.detail ?? null,
          checkedAt: Date.now(),
        };
      } catch (error) {
        return {
          name: fn.name,
          status: "down",
          latencyMs: round(performance.now() - started),
          detail: error instanceof Error ? error.message : String(error),
          checkedAt: Date.now(),
        };
      } finally {
        if (timer !== undefined) clearTimeout(timer);
      }
    }),
  );
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
