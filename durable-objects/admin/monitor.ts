import type { Env } from "../../platform/env.ts";
import type { AlertInput, AlertsConfig } from "../../shared/admin.ts";
import type { Config } from "../../shared/config.ts";
import { isOnline } from "../../shared/nodes/states.ts";
import { listNodeFacts, probeChain, probeTron } from "./probes.ts";

/** An alert that should be open now; alerts under an evaluated prefix and not listed resolve. */
export type Condition = AlertInput & { severity: "warning" | "critical" };

export interface Evaluation {
  active: Condition[];
  /** Key prefixes whose facts were read this round (a probe that failed leaves its alerts as they are). */
  evaluated: string[];
  errors: string[];
}

/**
 * The condition rules (shared/alert-rules.ts): read the facts from the objects that own them and
 * say which alerts should be open. Pure reads; AdminDO raises and resolves.
 */
export async function evaluateConditions(env: Env, config: Config, limits: AlertsConfig): Promise<Evaluation> {
  const active: Condition[] = [];
  const evaluated: string[] = [];
  const errors: string[] = [];
  const attempt = async (prefixes: string[], read: () => Promise<void>) => {
    try {
      await read();
      evaluated.push(...prefixes);
    } catch (error) {
      errors.push(`${prefixes.join(",")}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  await Promise.all([
    attempt(["chain:stalled"], async () => {
      const chain = await probeChain(env, config, limits);
      if (chain.lagSlots >= limits.chainStallSlots) {
        active.push({
          key: "chain:stalled",
          severity: "critical",
          source: "chain",
          title: `The chain has made no block for ${chain.lagSlots} slots while work waits`,
          detail: chain.detail,
        });
      }
    }),
    attempt(["tron:unavailable"], async () => {
      const tron = await probeTron(env, limits);
      if (!tron.reachable) {
        const title = tron.breaker === "open" ? "The TRON circuit breaker is open" : "The TRON node does not answer";
        active.push({
          key: "tron:unavailable",
          severity: "critical",
          source: "tron-client",
          title,
          detail: `${tron.detail}. Payouts, staking and TRON anchoring wait until it answers.`,
        });
      }
    }),
    attempt(["node:offline:", "node:spool:"], async () => {
      for (const node of await listNodeFacts(env)) {
        if (node.state === "offline") {
          active.push({
            key: `node:offline:${node.id}`,
            severity: "warning",
            source: "node-pool",
            title: `Node ${node.id} stopped beating and is offline`,
          });
        }
        const spool = node.lastReport?.spoolPercent;
        if (isOnline(node.state) && spool !== undefined && spool >= limits.spoolFullPercent) {
          active.push({
            key: `node:spool:${node.id}`,
            severity: "warning",
            source: "node-pool",
            title: `Node ${node.id}'s upload spool is ${spool} % full`,
            detail: `At or above alerts.spoolFullPercent (${limits.spoolFullPercent} %): uploads are falling behind.`,
          });
        }
      }
    }),
  ]);
  return { active, evaluated, errors };
}

export function lockdownCondition(reason: string | null): Condition {
  return {
    key: "emergency:lockdown",
    severity: "critical",
    source: "emergency",
    title: "Emergency lockdown is engaged: writes are suspended",
    detail: reason ?? undefined,
  };
}

/** Whether `key` falls under one of the evaluated prefixes (a prefix ending in ":" covers a family). */
export function coveredBy(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => key === p || (p.endsWith(":") && key.startsWith(p)));
}
