import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { logEvent, shouldLog } from "../../shared/log.ts";
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

/** A request slower than this is always logged, whatever the sampling. */
export const SLOW_REQUEST_MS = 1000;
const READS = new Set(["GET", "HEAD", "OPTIONS"]);
let readsSinceLogged = 0;

/**
 * Whether a request gets its access-log line: every error and refusal (status ≥ 400), every write,
 * every slow request and everything at LOG_LEVEL=debug; of the plain fast successful reads, one in
 * ACCESS_LOG_SAMPLE (per isolate, the first one included), whose line carries `sampled: N`. The
 * metrics count every request, so the totals never depend on the sampling.
 */
export function accessLogSample(method: string, status: number, durationMs: number, sample: number, level: string): number | undefined {
  if (status >= 400 || !READS.has(method) || durationMs >= SLOW_REQUEST_MS || level === "debug" || sample <= 1) return 1;
  const due = readsSinceLogged % sample === 0;
  readsSinceLogged += 1;
  return due ? sample : undefined;
}

/**
 * The access log line (sampled, see accessLogSample) and the HTTP metrics per request. The route
 * label is the matched pattern (`/api/v1/system/services/:name`), never the raw path, so
 * cardinality stays bounded.
 */
export function observe(): MiddlewareHandler<AppEnv> {
  return async function observeMiddleware(c, next) {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const handler = matchedRoutes(c).findLast((route) => route.method !== "ALL");
    const status = c.res.status;
    const route = status === 404 || !handler ? "unmatched" : handler.path;
    metrics.inc("lucid_http_requests_total", { method: c.req.method, route, status: String(status) });
    metrics.observe("lucid_http_request_duration_seconds", { route }, seconds);
    const config = c.get("config");
    const level = config?.LOG_LEVEL ?? "info";
    const durationMs = Math.round(seconds * 1000 * 100) / 100;
    const severity = status >= 500 ? "error" : "info";
    const sampled = shouldLog(severity, level)
      ? accessLogSample(c.req.method, status, durationMs, config?.ACCESS_LOG_SAMPLE ?? 1, level)
      : undefined;
    if (sampled !== undefined) {
      logEvent(
        severity,
        "http.request",
        {
          requestId: c.get("requestId"),
          method: c.req.method,
          path: c.req.path,
          route,
          status,
          durationMs,
          userId: c.get("principal")?.userId,
          ...(sampled > 1 ? { sampled } : {}),
        },
        level,
      );
    }
    if (metrics.due()) c.executionCtx.waitUntil(flushMetrics(c.env));
  };
}
