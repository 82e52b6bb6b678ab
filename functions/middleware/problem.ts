import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../../shared/config.ts";
import { ApiError, type ProblemSlug } from "../../shared/errors.ts";
import { logEvent } from "../../shared/log.ts";
import type { AppEnv } from "../types.ts";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
export const SUPPORTED_API_VERSIONS = ["v1"] as const;

export function problemResponse(c: Context, error: ApiError): Response {
  const headers = new Headers(error.headers);
  headers.set("Content-Type", PROBLEM_CONTENT_TYPE);
  headers.set("Cache-Control", "no-store");
  const problem = error.toProblem(new URL(c.req.url).pathname);
  const requestId = c.get("requestId");
  if (requestId) problem.requestId = requestId;
  // Headers set by earlier middleware (X-Request-Id, secure headers, CORS) must survive an error.
  for (const [name, value] of c.res.headers) if (!headers.has(name)) headers.set(name, value);
  return new Response(JSON.stringify(problem), { status: error.status, headers });
}

const STATUS_SLUGS: Record<number, ProblemSlug> = {
  400: "bad-request",
  401: "unauthorized",
  403: "forbidden",
  404: "not-found",
  405: "method-not-allowed",
  409: "conflict",
  413: "payload-too-large",
  415: "unsupported-media-type",
  429: "rate-limited",
  503: "service-unavailable",
};

/** Turns anything thrown into an ApiError. Unknown errors become a bare 500: their text never leaves. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ConfigError) {
    return new ApiError("config-invalid", "The server's configuration is invalid; an operator must fix it.", {
      errors: error.issues,
    });
  }
  if (error instanceof HTTPException) {
    if (error.status === 400 && /malformed json/i.test(error.message)) {
      return new ApiError("malformed-json", "The request body is not valid JSON.");
    }
    const slug = STATUS_SLUGS[error.status] ?? (error.status >= 500 ? "internal-error" : "bad-request");
    return new ApiError(slug, error.status >= 500 ? undefined : error.message || undefined);
  }
  return new ApiError("internal-error", "An unexpected error occurred.");
}

const DELIBERATE_REFUSALS: ReadonlySet<string> = new Set(["lockdown", "sessions-shutdown", "recordings-halted"]);

export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const apiError = toApiError(error);
  // Emergency refusals (503 by design, functions/middleware/emergency-gate.ts) are not server errors.
  if (apiError.status >= 500 && !DELIBERATE_REFUSALS.has(apiError.slug)) {
    logEvent("error", "request.error", {
      requestId: c.get("requestId"),
      path: new URL(c.req.url).pathname,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      // The stack stays in the server's log (never in a response); a config error needs none.
      stack: error instanceof Error && !(error instanceof ConfigError) ? error.stack : undefined,
    });
  }
  return problemResponse(c, apiError);
};

/**
 * 404 for unknown paths, 404 `unknown-api-version` for /api/vN with N unsupported, and 405
 * with Allow when the path exists under other methods. Routes are compiled lazily once.
 */
export function notFoundHandler(app: Hono<AppEnv>): NotFoundHandler<AppEnv> {
  let table: { method: string; pattern: RegExp }[] | undefined;
  return (c) => {
    const path = new URL(c.req.url).pathname;
    const version = /^\/api\/(v[^/]*)(?:\/|$)/.exec(path)?.[1];
    if (version && !(SUPPORTED_API_VERSIONS as readonly string[]).includes(version)) {
      throw new ApiError("unknown-api-version", `API version "${version}" does not exist.`, {
        supported: SUPPORTED_API_VERSIONS,
      });
    }
    table ??= app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => ({ method: route.method, pattern: routePattern(route.path) }));
    const allowed = new Set(table.filter((route) => route.pattern.test(path)).map((route) => route.method));
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      if (allowed.has("GET")) allowed.add("HEAD");
      allowed.add("OPTIONS");
      const allow = [...allowed].sort().join(", ");
      throw new ApiError(
        "method-not-allowed",
        `${c.req.method} is not allowed on ${path}.`,
        { allow: [...allowed].sort() },
        {
          Allow: allow,
        },
      );
    }
    throw new ApiError("not-found", `Nothing at ${path}.`);
  };
}

function routePattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => {
      if (segment === "*") return ".*";
      if (segment.startsWith(":")) {
        const custom = /^:[^{]+\{(.+)\}\??$/.exec(segment)?.[1];
        return custom ? `(?:${custom})` : "[^/]+";
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}/?$`);
}
