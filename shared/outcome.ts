import type { ProblemSlug } from "./errors.ts";

/**
 * What a Durable Object RPC method returns when a refusal is part of its contract: errors thrown
 * across RPC lose their class, so refusals travel as values and the route turns them into
 * problem+json (functions/nodes/outcome.ts).
 */
export interface Refusal {
  slug: ProblemSlug;
  detail: string;
  extensions?: Record<string, unknown>;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: Refusal };

export function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function refuse(slug: ProblemSlug, detail: string, extensions?: Record<string, unknown>): { ok: false; problem: Refusal } {
  return { ok: false, problem: { slug, detail, ...(extensions ? { extensions } : {}) } };
}
