/**
 * Reconnect delays: exponential from `minMs` (doubling per consecutive failure), capped at `maxMs`,
 * with ±`jitter` spread so a fleet of agents that lost the server at once does not come back in
 * step. `random` is injectable for tests.
 */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Fraction of the delay to spread either way (default 0.2). */
  jitter?: number;
}

export function backoffDelay(failures: number, o: BackoffOptions, random: () => number = Math.random): number {
  if (!(o.minMs > 0) || !(o.maxMs >= o.minMs)) throw new RangeError("back-off needs 0 < minMs <= maxMs");
  const jitter = o.jitter ?? 0.2;
  if (!(jitter >= 0 && jitter < 1)) throw new RangeError("jitter must be in [0, 1)");
  const base = Math.min(o.maxMs, o.minMs * 2 ** Math.min(Math.max(0, failures), 30));
  return Math.min(o.maxMs, Math.max(1, Math.round(base * (1 - jitter + 2 * jitter * random()))));
}
