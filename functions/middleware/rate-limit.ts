import type { MiddlewareHandler } from "hono";
import type { LeaseGrant } from "../../durable-objects/rate-limiter/index.ts";
import { ApiError } from "../../shared/errors.ts";
import type { Config } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { callDurableObject } from "../do-call.ts";
import { clientAddress } from "./client-address.ts";
import { metrics } from "../../platform/metrics.ts";
import type { AppEnv } from "../types.ts";
import { objectNamed } from "../../platform/objects.ts";

// The client address is decided by the deployment (./client-address.ts); re-exported for callers here.
export { clientAddress };

export interface RateLimitPolicy {
  limit: number;
  windowMs: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms when the window resets. */
  resetAt: number;
}

/**
 * What the gateway needs from a rate limiter. Cloudflare's `ratelimits` binding does not
 * exist in workerd, so the implementation is Durable-Object backed; another backend only
 * has to implement this.
 */
export interface RateLimiter {
  consume(key: string, policy: RateLimitPolicy): Promise<RateLimitDecision>;
}

interface Lease {
  tokens: number;
  remainingAtGrant: number;
  resetAt: number;
}

const MAX_LEASED_KEYS = 10_000;

/**
 * DO-backed limiter with per-isolate leases: each isolate asks the client's RateLimiterDO for
 * a batch (a twentieth of the limit, at most 1000) and spends it locally, so a DO round trip
 * happens once per batch rather than once per request. Grants never exceed the limit, so
 * the limit holds exactly as an upper bound; an isolate that was refused answers 429 without
 * asking again until the window resets.
 *
 * Requests that find the lease empty at the same time each ask for their own batch and add it
 * to the lease (a grant that replaced the lease would drop the others' unspent tokens). They
 * never wait on one shared refill: a promise settled by one request's I/O would run the others'
 * continuations in that request's context, where Workers refuses or cancels their own I/O.
 */
export class DurableObjectRateLimiter implements RateLimiter {
  readonly #leases = new Map<string, Lease>();

  constructor(private readonly env: Env) {}

  async consume(key: string, policy: RateLimitPolicy): Promise<RateLimitDecision> {
    const now = Date.now();
    const lease = this.#leases.get(key);
    if (lease && now < lease.resetAt && (lease.tokens > 0 || lease.remainingAtGrant === 0)) return this.#spend(lease, policy.limit);
    const want = Math.max(1, Math.min(1000, Math.floor(policy.limit / 20)));
    const grant: LeaseGrant = await callDurableObject("RateLimiterDO", "acquire", () =>
      objectNamed(this.env, "RATE_LIMITER", key).acquire({ key, want, ...policy }),
    );
    return this.#spend(this.#merge(key, grant, Date.now()), grant.limit);
  }

  /** Adds a grant to the key's lease for the same window; a grant for a newer window replaces it. */
  #merge(key: string, grant: LeaseGrant, now: number): Lease {
    const current = this.#leases.get(key);
    if (current && current.resetAt === grant.resetAt) {
      current.tokens += grant.granted;
      current.remainingAtGrant = Math.min(current.remainingAtGrant, grant.remaining);
      return current;
    }
    // A grant from a window older than the lease's (a slow reply) carries expired tokens.
    if (current && current.resetAt > grant.resetAt) return current;
    if (this.#leases.size >= MAX_LEASED_KEYS && !current) this.#evictExpired(now);
    this.#leases.delete(key); // re-insert keeps Map order ≈ least recently refreshed first
    const lease: Lease = { tokens: grant.granted, remainingAtGrant: grant.remaining, resetAt: grant.resetAt };
    this.#leases.set(key, lease);
    return lease;
  }

  #spend(lease: Lease, limit: number): RateLimitDecision {
    const allowed = lease.tokens > 0;
    if (allowed) lease.tokens -= 1;
    return { allowed, limit, remaining: lease.remainingAtGrant + lease.tokens, resetAt: lease.resetAt };
  }

  #evictExpired(now: number): void {
    for (const [key, lease] of this.#leases) {
      if (lease.resetAt <= now) this.#leases.delete(key);
    }
    // Still full: drop the oldest half. Their unspent tokens are simply not used (never over-admits).
    if (this.#leases.size >= MAX_LEASED_KEYS) {
      let drop = this.#leases.size / 2;
      for (const key of this.#leases.keys()) {
        if (drop-- <= 0) break;
        this.#leases.delete(key);
      }
    }
  }
}

// One limiter per environment object, i.e. per isolate: the lease cache must outlive a request.
const limiters = new WeakMap<object, RateLimiter>();
export function rateLimiterFor(env: Env): RateLimiter {
  let limiter = limiters.get(env);
  if (!limiter) limiters.set(env, (limiter = new DurableObjectRateLimiter(env)));
  return limiter;
}

export interface RateLimitOptions {
  /** Route group name: separate quotas per group (e.g. "default", "payments"). */
  group: string;
  limit: (config: Config) => number;
  windowMs?: number;
  limiter?: (env: Env) => RateLimiter;
}

/**
 * Per-client quota: the user id when authenticated, else the client address. Groups nest (the
 * gateway's default around a surface's own, e.g. payments): the innermost group's `RateLimit-*`
 * headers are the ones answered, 429 included, since its policy is the one that binds there.
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  if (!/^[a-z][a-z0-9-]*$/.test(options.group)) throw new Error(`rateLimit: invalid group "${options.group}"`);
  const windowMs = options.windowMs ?? 60_000;
  if (!Number.isInteger(windowMs) || windowMs < 1000) throw new Error("rateLimit: windowMs must be ≥ 1000");
  const limiterFor = options.limiter ?? rateLimiterFor;

  return async function rateLimitMiddleware(c, next) {
    const limit = options.limit(c.get("config"));
    const principal = c.get("principal");
    const client = principal ? `user:${principal.userId}` : `ip:${clientAddress(c)}`;
    const decision = await limiterFor(c.env).consume(`${options.group}:${client}`, { limit, windowMs });
    const resetSeconds = Math.max(0, Math.ceil((decision.resetAt - Date.now()) / 1000));
    const headers = {
      "RateLimit-Policy": `${decision.limit};w=${windowMs / 1000}`,
      "RateLimit-Limit": String(decision.limit),
      "RateLimit-Remaining": String(decision.remaining),
      "RateLimit-Reset": String(resetSeconds),
    };
    if (!decision.allowed) {
      metrics.inc("lucid_rate_limit_rejections_total", { group: options.group });
      throw new ApiError(
        "rate-limited",
        `More than ${decision.limit} requests in ${windowMs / 1000} s; retry in ${resetSeconds} s.`,
        { limit: decision.limit, retryAfter: resetSeconds },
        { ...headers, "Retry-After": String(Math.max(1, resetSeconds)) },
      );
    }
    await next();
    // An inner group already advertised its own (stricter) policy on this response: keep it.
    if (c.res.headers.has("RateLimit-Policy")) return;
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}
