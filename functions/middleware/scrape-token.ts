import type { MiddlewareHandler } from "hono";
import type { Config } from "../../shared/config.ts";
import { ApiError } from "../../shared/errors.ts";
import { can, type Permission } from "../../shared/rbac.ts";
import type { AppEnv } from "../types.ts";
import { principalOf } from "./authenticate.ts";

const encoder = new TextEncoder();

/** Compares two strings in time that depends only on their lengths (WebCrypto's timingSafeEqual). */
function sameSecret(presented: string, expected: string): boolean {
  const a = encoder.encode(presented);
  const b = encoder.encode(expected);
  // Compare against itself on a length mismatch, so the work done does not depend on where they differ.
  return a.byteLength === b.byteLength ? crypto.subtle.timingSafeEqual(a, b) : !crypto.subtle.timingSafeEqual(b, b);
}

/** Whether `bearer` is the configured Prometheus scrape token (METRICS_SCRAPE_TOKEN); never without one. */
export function isScrapeToken(bearer: string, config: Config): boolean {
  const expected = config.METRICS_SCRAPE_TOKEN;
  return expected !== undefined && sameSecret(bearer, expected);
}

/**
 * Admits the configured scrape token (`Authorization: Bearer <METRICS_SCRAPE_TOKEN>`), or else a
 * caller whose role holds `permission`: 401 for anyone else without a token, 403 with one.
 */
export function scrapeTokenOr(permission: Permission): MiddlewareHandler<AppEnv> {
  return async function scrapeTokenMiddleware(c, next) {
    const bearer = /^Bearer (\S+)$/.exec(c.req.header("Authorization") ?? "")?.[1];
    if (!(bearer && isScrapeToken(bearer, c.get("config")))) {
      const principal = principalOf(c);
      if (!can(principal.role, permission)) {
        throw new ApiError("forbidden", `This action needs the "${permission}" permission or the metrics scrape token.`);
      }
    }
    await next();
  };
}
