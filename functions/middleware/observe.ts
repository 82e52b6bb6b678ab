import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { logEvent } from "../../shared/log.ts";
import type { Env } from "../../platform/env.ts";
import { callDurableObject } from "../do-call.ts";
import { metrics } from "../../platform/metrics.ts";
import type { AppEnv } from "../types.ts";
import { singleton } from "../../platform/objects.ts";

/** Sends buffered metric deltas to SystemDO; on failure they go back into the buffer. */
export async function flushMetrics(env: Env, force = false): Promise<void> {
  const deltas = metrics.take(force);
  if (deltas.length === 0) return;
  try {
    await callDurableObject("SystemDO", "addMetrics", () => singleton(env, "SYSTEM").addMetrics(deltas));
  } catch (error) {
    metrics.restore(deltas);
    logEvent("warn", "metrics.flush_failed", { error: String(error) });
  }
}

/**
 * One JSON log line and the HTTP metrics per request. The route label is the matched
 * pattern (`/api/v1/system/services/:name`), never the raw path, so cardinality stays bounded.
 */
export function observe(): MiddlewareHandler<AppEnv> {
  return async function observeMiddleware(c, next) {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const handler = matchedRoutes(c).findLast((route) => route.method !== "ALL");
    const route = c.res.status === 404 || !handler ? "unmatched" : handler.path;
    metrics.inc("lucid_http_requests_total", { method: c.req.method, route, status: String(c.res.status) });
    metrics.observe("lucid_http_request_duration_seconds", { route }, seconds);
    const config = c.get("config");
    logEvent(
      c.res.status >= 500 ? "error" : "info",
      "http.request",
      {
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        route,
        status: c.res.status,
        durationMs: Math.round(seconds * 1000 * 100) / 100,
        userId: c.get("principal")?.userId,
      },
      config?.LOG_LEVEL ?? "info",
    );
    if (metrics.due()) c.executionCtx.waitUntil(flushMetrics(c.env));
  };
}
