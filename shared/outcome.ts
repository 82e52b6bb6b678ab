import { ApiError, type ProblemSlug } from "./errors.ts";

/**
 * What a Durable Object RPC method returns when a refusal is part of its contract (every DO uses
 * this one shape). Errors thrown across RPC lose their class, so refusals travel as values and
 * the route turns them back into problem+json with `unwrap`.
 */

/** Extension values stay flat (scalars or lists of them): a recursive type defeats RPC's type mapping. */
export type Scalar = string | number | boolean | null;
export type RefusalExtensions = { [key: string]: Scalar | Scalar[] };

export interface Refusal {
  slug: ProblemSlug;
  detail: string;
  extensions?: RefusalExtensions;
}

/**
 * A discriminated union, so `if (!o.ok) return o;` narrows. Over RPC it arrives as a union of
 * promises: wrappers infer the promise (functions/do-call.ts) or `Promise<Outcome<T>>`, never `Promise<T>`.
 */
export type Outcome<T> = Accepted<T> | Refused;
export type Accepted<T> = { ok: true; value: T };
export type Refused = { ok: false; problem: Refusal };

export function ok<T>(value: T): Accepted<T> {
  return { ok: true, value };
}

export function refuse(slug: ProblemSlug, detail: string, extensions?: RefusalExtensions): Refused {
  return { ok: false, problem: { slug, detail, ...(extensions ? { extensions } : {}) } };
}

/** Thrown inside `outcome(...)` to refuse from deep in a call chain (e.g. LedgerDO's rules). */
export class RefusalError extends Error {
  constructor(
    readonly slug: ProblemSlug,
    detail: string,
    readonly extensions: RefusalExtensions = {},
  ) {
    super(detail);
  }
}

/** Runs `run`; a RefusalError becomes a refusal value, any other error propagates. */
export async function outcome<T>(run: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return ok(await run());
  } catch (error) {
    if (error instanceof RefusalError)
      return { ok: false, problem: { slug: error.slug, detail: error.message, extensions: error.extensions } };
    throw error;
  }
}

/** At the route: the value, or the refusal as the ApiError (problem+json) it names. */
export function unwrap<T>(result: Outcome<T>): T {
  if (!result.ok) throw new ApiError(result.problem.slug, result.problem.detail, result.problem.extensions ?? {});
  return result.value;
}
