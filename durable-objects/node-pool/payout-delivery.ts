import type { Env } from "../../platform/env.ts";
import { singleton } from "../../platform/objects.ts";
import type { PayoutReceipt, PayoutRequest } from "../../shared/nodes/payout.ts";
import { backoffMs } from "../scheduler.ts";

/**
 * Where the pool's payout outbox delivers: payments' LedgerDO. Where no LEDGER binding exists
 * (a deployment without payments), `payoutGatewayFrom` returns null and requests stay queued,
 * retried by the pool's alarm with back-off.
 *
 * The contract: a Durable Object binding `LEDGER` (class LedgerDO, instance named "ledger")
 * with the RPC method `requestNodePayout(request: PayoutRequest): Promise<PayoutReceipt>`,
 * idempotent on `request.idempotencyKey` (a repeat returns `duplicate` with the first payoutId);
 * it throws only for transient failures (the pool retries), and answers `rejected` for final refusals.
 */
export interface PayoutGateway {
  deliver(request: PayoutRequest): Promise<PayoutReceipt>;
}

export function payoutGatewayFrom(env: Env): PayoutGateway | null {
  // Env declares LEDGER, but a deployment without payments has no such binding at run time.
  if (!(env as Partial<Env>).LEDGER) return null;
  return {
    deliver: (request) => singleton(env, "LEDGER").requestNodePayout(request),
  };
}

export const RETRY_BASE_MS = 30_000;
export const RETRY_MAX_MS = 3_600_000;

/** Exponential back-off: 30 s, 1 min, 2 min, … capped at 1 h. `attempts` counts failures so far. */
export function retryDelayMs(attempts: number): number {
  return backoffMs(attempts, { baseMs: RETRY_BASE_MS, maxMs: RETRY_MAX_MS });
}
