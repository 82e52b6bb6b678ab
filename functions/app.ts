import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { z } from "zod";
import type { MiddlewareHandler } from "hono";
import { loadConfig, type Config } from "../shared/config.ts";
import { ApiError, PROBLEM_TYPES, problemTypeUri, type ProblemSlug } from "../shared/errors.ts";
import { authenticate, rejectInvalidCredentials } from "./middleware/authenticate.ts";
import { observe } from "./middleware/observe.ts";
import { notFoundHandler, onError, PROBLEM_CONTENT_TYPE } from "./middleware/problem.ts";
import { rateLimit } from "./middleware/rate-limit.ts";
import { requestId } from "./middleware/request-id.ts";
import { createApp } from "./openapi.ts";
import { paymentsApp } from "./payments/index.ts";
import type { AppEnv } from "./types.ts";
import { isChunkUpload, sessionsApp } from "./sessions/index.ts";
import { chainApp } from "./chain/index.ts";
import { systemApp } from "./system/index.ts";
import { authApp } from "./auth/index.ts";
import { usersApp } from "./users/index.ts";
import { nodesApp } from "./nodes/index.ts";
import { isDashboardRequest, serveDashboard } from "./dashboard/index.ts";
import { adminApp, notificationsApp } from "./admin/index.ts";
import { emergencyGate } from "./middleware/emergency-gate.ts";
import { auditAdminWrites } from "./middleware/audit-admin-writes.ts";
import { rdpApp } from "./rdp/index.ts";

export const API_VERSION = "0.1.0";

const app = createApp();

app.use(
  "*",
  requestId(),
  observe(),
  async function loadConfiguration(c, next) {
    c.set("config", loadConfig(c.env));
    await next();
  },
  secureHeaders({ crossOriginResourcePolicy: "cross-origin" }),
  async function corsAndBodyLimit(c, next) {
    const { cors, limitBody } = configuredMiddleware(c.get("config"));
    return cors(c, async () => {
      // Chunk uploads stream up to CHUNK_MAX_BYTES and enforce that limit themselves.
      if (isChunkUpload(c.req.method, c.req.path)) return next();
      await limitBody(c, next);
    });
  },
);

// Middleware that depends on configuration is built once per configuration object, not per request.
const configured = new WeakMap<Config, { cors: MiddlewareHandler<AppEnv>; limitBody: MiddlewareHandler<AppEnv> }>();
function configuredMiddleware(config: Config) {
  let entry = configured.get(config);
  if (!entry) {
    // The public origin is always allowed; the configured list adds others (the request's Host never does).
    const origins = config.CORS_ALLOWED_ORIGINS.includes("*") ? "*" : [...new Set([config.PUBLIC_ORIGIN, ...config.CORS_ALLOWED_ORIGINS])];
    const maxSize = config.MAX_BODY_BYTES;
    entry = {
      cors: cors({
        origin: origins,
        allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
        exposeHeaders: ["X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"],
        maxAge: 600,
      }),
      limitBody: bodyLimit({
        maxSize,
        onError: () => {
          throw new ApiError("payload-too-large", `The body exceeds ${maxSize} bytes.`, { limit: maxSize });
        },
      }),
    };
    configured.set(config, entry);
  }
  return entry;
}

app.use(
  "/api/*",
  authenticate(),
  rateLimit({ group: "default", limit: (config) => config.RATE_LIMIT_PER_MINUTE }),
  rejectInvalidCredentials(),
  emergencyGate(),
  auditAdminWrites(),
);

app.onError(onError);
// Anything the API does not own is the web dashboard's (functions/dashboard), else a 404 problem.
const apiNotFound = notFoundHandler(app);
app.notFound(async (c) => (isDashboardRequest(c.req.method, c.req.path) && (await serveDashboard(c))) || apiNotFound(c));

// Public liveness for load balancers and systemd: up or down, nothing else (the version, the
// environment and every function's health are ADMIN's, at /api/v1/system/services).
app.get("/health", (c) => c.json({ status: "up" as const }));

// Problem `type` URIs are relative links to this documentation.
const slugSchema = z.enum(Object.keys(PROBLEM_TYPES) as [ProblemSlug, ...ProblemSlug[]]);
app.get("/problems/:slug", (c) => {
  const slug = slugSchema.safeParse(c.req.param("slug"));
  if (!slug.success) throw new ApiError("not-found", `No problem type "${c.req.param("slug")}".`);
  const { status, title, description } = PROBLEM_TYPES[slug.data];
  return c.json({ type: problemTypeUri(slug.data), status, title, description, contentType: PROBLEM_CONTENT_TYPE });
});

// One chained expression: Hono's route types only reach AppType (functions/client.ts) through it.
const routes = app
  .route("/api/v1/system", systemApp)
  .route("/api/v1/sessions", sessionsApp)
  .route("/api/v1/admin", adminApp)
  .route("/api/v1/notifications", notificationsApp)
  .route("/api/v1/auth", authApp)
  .route("/api/v1/users", usersApp)
  .route("/api/v1/nodes", nodesApp)
  .route("/api/v1/chain", chainApp)
  .route("/api/v1/payments", paymentsApp)
  .route("/api/v1/rdp", rdpApp);

// Generated once per isolate (the routes do not change at run time); `servers` is the configured origin.
let openApiDocument: ReturnType<typeof app.getOpenAPI31Document> | undefined;
app.get("/api/v1/openapi.json", (c) => {
  openApiDocument ??= app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Lucid API",
      version: API_VERSION,
      description:
        "Tamper-evident remote-desktop session recording. Errors are RFC 9457 application/problem+json; " +
        "`type` links to /problems/<slug>.",
    },
  });
  return c.json({ ...openApiDocument, servers: [{ url: c.get("config").PUBLIC_ORIGIN }] });
});

export type AppType = typeof routes;
export default app;
