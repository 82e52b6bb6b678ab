import type { ProblemSlug } from "../../shared/errors.ts";

/**
 * What LedgerDO's RPC methods return. Errors do not keep their class across a Durable Object
 * RPC boundary, so expected failures travel as values and the function turns them into
 * problem+json (functions/payments/ledger-call.ts).
 */
export interface LedgerProblem {
  slug: ProblemSlug;
  detail: string;
  extensions?: Record<string, string>;
}
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: LedgerProblem };

export class LedgerError extends Error {
  constructor(
    readonly slug: ProblemSlug,
    detail: string,
    readonly extensions: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export async function outcome<T>(run: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    if (error instanceof LedgerError) return { ok: false, problem: { slug: error.slug, detail: error.message, extensions: error.extensions } };
    throw error;
  }
}
