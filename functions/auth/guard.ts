import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { callDurableObject } from "../do-call.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import type { AppEnv } from "../types.ts";

/**
 * Brute-force protection for one login attempt: failures count against the account key
 * (`addr:<address>` or `user:<id>`) and the client's IP, each in its own LoginGuardDO with a
 * growing back-off. Success clears the account key only, so a client cannot launder its IP
 * record by logging into an account of its own between guesses.
 */
export function loginGuard(c: Context<AppEnv>, accountKey: string | null) {
  const ipKey = `ip:${clientAddress(c)}`;
  const keys = accountKey ? [accountKey, ipKey] : [ipKey];
  const stub = (key: string) => c.env.LOGIN_GUARD.get(c.env.LOGIN_GUARD.idFromName(key));
  const config = c.get("config");
  const policy = { freeFailures: config.LOGIN_FAILURES_BEFORE_BACKOFF, maxSeconds: config.LOGIN_BACKOFF_MAX_SECONDS };

  return {
    /** 429 login-throttled while any of the keys is backing off. */
    async assertOpen(): Promise<void> {
      const until = await Promise.all(keys.map((key) => callDurableObject("LoginGuardDO", "lockedUntil", () => stub(key).lockedUntil())));
      const lockedUntil = Math.max(...until);
      if (lockedUntil > 0) throw throttled(lockedUntil);
    },
    async fail(): Promise<void> {
      await Promise.all(keys.map((key) => callDurableObject("LoginGuardDO", "recordFailure", () => stub(key).recordFailure(policy))));
    },
    async succeed(): Promise<void> {
      if (accountKey) await callDurableObject("LoginGuardDO", "recordSuccess", () => stub(accountKey).recordSuccess());
    },
  };
}

function throttled(lockedUntil: number): ApiError {
  const retryAfter = Math.max(1, Math.ceil((lockedUntil - Date.now()) / 1000));
  return new ApiError("login-throttled", `Too many failed logins; retry in ${retryAfter} s.`, { retryAfter }, { "Retry-After": String(retryAfter) });
}

/** Every failed login answers the same way, whatever failed (no oracle for attackers). */
export function loginFailed(detail = "The login failed: the challenge is missing, used or expired, or the signature does not match."): ApiError {
  return new ApiError("unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="lucid"' });
}
