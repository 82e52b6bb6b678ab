import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { callDurableObject } from "../do-call.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import type { AppEnv } from "../types.ts";
import { objectNamed } from "../../platform/objects.ts";

/**
 * Brute-force protection for one login attempt (docs/auth.md, "Login throttling"). Failures
 * count against the *source* (`ip:<client address>`, an IPv6 client by its /64) and against the
 * account (`addr:<address>` or `user:<id>`), each in its own LoginGuardDO with a doubling
 * back-off past the free failures.
 *
 * - A source that is backing off is refused for every account (brute force from one place).
 * - An account that is backing off refuses only sources that have failed before: a source with
 *   no failures on record always gets through, so an attacker rotating addresses cannot keep
 *   the owner out; each fresh address buys the attacker one try before it too is refused.
 *
 * Success clears the account key only, so a client cannot launder its source record by
 * logging into an account of its own between guesses.
 */
export function loginGuard(c: Context<AppEnv>, accountKey: string | null) {
  const ipKey = `ip:${sourceOf(clientAddress(c))}`;
  const keys = accountKey ? [ipKey, accountKey] : [ipKey];
  const stub = (key: string) => objectNamed(c.env, "LOGIN_GUARD", key);
  const config = c.get("config");
  const policy = { freeFailures: config.LOGIN_FAILURES_BEFORE_BACKOFF, maxSeconds: config.LOGIN_BACKOFF_MAX_SECONDS };

  return {
    /** 429 login-throttled while the source backs off, or the account does and this source has failed. */
    async assertOpen(): Promise<void> {
      const [source, account] = await Promise.all(
        keys.map((key) => callDurableObject("LoginGuardDO", "failureState", () => stub(key).failureState())),
      );
      if (source!.lockedUntil > 0) throw throttled(source!.lockedUntil);
      if (account && account.lockedUntil > 0 && source!.failures > 0) throw throttled(account.lockedUntil);
    },
    async fail(): Promise<void> {
      await Promise.all(keys.map((key) => callDurableObject("LoginGuardDO", "recordFailure", () => stub(key).recordFailure(policy))));
    },
    async succeed(): Promise<void> {
      if (accountKey) await callDurableObject("LoginGuardDO", "recordSuccess", () => stub(accountKey).recordSuccess());
    },
  };
}

/**
 * The unit a source is throttled by: an IPv4 address as is, an IPv6 address by its /64 (one
 * subscriber usually holds a whole /64, so counting single addresses would throttle nobody).
 */
export function sourceOf(address: string): string {
  if (!address.includes(":")) return address;
  // An IPv4 client seen through an IPv6 socket (::ffff:192.0.2.1) is that IPv4 address.
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  if (mapped) return mapped;
  const [head = "", tail] = address.toLowerCase().split("::", 2) as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  if (groups.length < 4 || groups.slice(0, 4).some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return address;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

function throttled(lockedUntil: number): ApiError {
  const retryAfter = Math.max(1, Math.ceil((lockedUntil - Date.now()) / 1000));
  return new ApiError(
    "login-throttled",
    `Too many failed logins; retry in ${retryAfter} s.`,
    { retryAfter },
    { "Retry-After": String(retryAfter) },
  );
}

/** Every failed login answers the same way, whatever failed (no oracle for attackers). */
export function loginFailed(
  detail = "The login failed: the challenge is missing, used or expired, or the signature does not match.",
): ApiError {
  return new ApiError("unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="lucid"' });
}
