import type { Context } from "hono";
import { unwrap, type Outcome } from "../../shared/outcome.ts";
import { callDurableObject } from "../do-call.ts";
import type { AppEnv } from "../types.ts";
import { singleton } from "../../platform/objects.ts";

/** The one LedgerDO: single writer of wallets, payouts and stakes. */
export function ledgerStub(c: Context<AppEnv>) {
  return singleton(c.env, "LEDGER");
}

type Stub = ReturnType<typeof ledgerStub>;

/** Calls a LedgerDO method, turning its problem values into ApiErrors (problem+json). */
export async function ledger<T>(c: Context<AppEnv>, method: string, call: (stub: Stub) => Promise<Outcome<T>>): Promise<T> {
  return unwrap(await callDurableObject("LedgerDO", method, () => call(ledgerStub(c))));
}

/** For LedgerDO methods that cannot fail with a problem. */
export function ledgerPlain<T>(c: Context<AppEnv>, method: string, call: (stub: Stub) => Promise<T>): Promise<T> {
  return callDurableObject("LedgerDO", method, () => call(ledgerStub(c)));
}
