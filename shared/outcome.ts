import type { ProblemSlug } from "./errors.ts";

/**
 * What a Durable Object RPC method returns when a refusal is part of its contract: errors thrown
 * across RPC lose their class, so refusals travel as values and the route turns them into
 * problem+json (functions/nodes/outcome.ts).
 */
/** Scalars only: a refusal's extensions cross RPC (and a recursive type defeats the RPC type mapping). */
export type Scalar = string | number | boolean | null;

export interface Refusal {
  slug: ProblemSlug;
  detail: string;
  extensions?: { [key: string]: Scalar };
}

/** One object type, not a union: RPC's type mapping distributes over unions and loses the value type. */
export interface Outcome<T> {
  ok: boolean;
  value?: T;
  problem?: Refusal;
}

export function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function refuse(slug: ProblemSlug, detail: string, extensions?: { [key: string]: Scalar }): { ok: false; problem: Refusal } {
  return { ok: false, problem: { slug, detail, ...(extensions ? { extensions } : {}) } };
}
