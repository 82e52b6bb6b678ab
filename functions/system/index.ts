import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { callDurableObject } from "../do-call.ts";
import { flushMetrics } from "../middleware/observe.ts";
import { labelText, renderPrometheus } from "../../platform/metrics.ts";
import { guarded } from "../middleware/authorize.ts";
import { scrapeTokenOr } from "../middleware/scrape-token.ts";
import { createApp, jsonResponse, problemResponses } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import type { Context } from "hono";
import { FUNCTION_CHECKS, FUNCTION_NAMES, runChecks } from "./registry.ts";
import { SEED_SERVICES } from "./seed-services.ts";
import { observeHealth } from "../admin/health-alerts.ts";
import { singleton } from "../../platform/objects.ts";

const StatusSchema = z.enum(["up", "degraded", "down"]);

const ServiceRecordSchema = z
  .object({
    name: z.string(),
    status: StatusSchema,
    latencyMs: z.number(),
    detail: z.string().nullable(),
    checkedAt: z.string().openapi({ format: "date-time" }),
    lastUpAt: z.string().nullable().openapi({ format: "date-time" }),
    consecutiveFailures: z.number().int(),
  })
  .openapi("ServiceRecord");

const ServicesReportSchema = z
  .object({
    status: StatusSchema,
    checkedAt: z.string().openapi({ format: "date-time" }),
    functions: z.array(ServiceRecordSchema.extend({ description: z.string() })),
    seedServices: z.array(
      z.object({
        id: z.number().int(),
        name: z.string(),
        function: z.string(),
        note: z.string(),
        status: z.union([StatusSchema, z.literal("not_built")]).openapi({
          description:
            "the function's health (work the Pi agents do is derived from the online nodes' heartbeats); `not_built` when no function does it yet",
        }),
      }),
    ),
  })
  .openapi("ServicesReport");

const FunctionName = z.enum(FUNCTION_NAMES);

function systemStub(c: Context<AppEnv>) {
  return singleton(c.env, "SYSTEM");
}

type Record_ = Awaited<ReturnType<ReturnType<typeof systemStub>["recordChecks"]>>[number];
function toJson(record: Record_) {
  return {
    name: record.name,
    status: record.status,
    latencyMs: record.latencyMs,
    detail: record.detail ?? null,
    checkedAt: new Date(record.checkedAt).toISOString(),
    lastUpAt: record.lastUpAt === null ? null : new Date(record.lastUpAt).toISOString(),
    consecutiveFailures: record.consecutiveFailures,
  };
}

async function checkAndReport(c: Context<AppEnv>, names?: readonly string[]) {
  const checks = names ? FUNCTION_CHECKS.filter((f) => names.includes(f.name)) : FUNCTION_CHECKS;
  const results = await runChecks(c.env, c.get("config"), checks);
  let records: Record_[];
  try {
    records = await callDurableObject("SystemDO", "recordChecks", () => systemStub(c).recordChecks(results));
  } catch {
    // The registry itself is down: still report what was measured (its own check says so).
    records = results.map((r) => ({ ...r, lastUpAt: r.status === "up" ? r.checkedAt : null, consecutiveFailures: 0 }));
  }
  await observeHealth(c.env, results);
  const byName = new Map(records.map((r) => [r.name, r]));
  const functions = checks.map((f) => ({ ...toJson(byName.get(f.name)!), description: f.description }));
  const overall = functions.some((f) => f.status === "down") ? "down" : functions.some((f) => f.status === "degraded") ? "degraded" : "up";
  return {
    status: overall as "up" | "degraded" | "down",
    checkedAt: new Date().toISOString(),
    functions,
    seedServices: SEED_SERVICES.filter((s) => !names || names.includes(s.function)).map((s) => ({
      ...s,
      status: byName.get(s.function)?.status ?? ("not_built" as const),
    })),
  };
}

const listServices = createRoute({
  method: "get",
  path: "/services",
  tags: ["system"],
  summary: "Run every function's health check and report each (with the seed's 27 services mapped onto them); ADMIN+",
  ...guarded("admin:read"),
  responses: {
    200: jsonResponse(ServicesReportSchema, "Health report"),
    ...problemResponses(401, 403, 429, 500),
  },
});

const checkServices = createRoute({
  method: "post",
  path: "/services/check",
  tags: ["system"],
  summary: "Run the health checks of the named functions now; ADMIN+",
  ...guarded("admin:read"),
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({ services: z.array(FunctionName).min(1).max(FUNCTION_NAMES.length) })
            .strict()
            .openapi("CheckServicesRequest"),
        },
      },
    },
  },
  responses: {
    200: jsonResponse(ServicesReportSchema, "Health report"),
    ...problemResponses(400, 401, 403, 413, 415, 429, 500),
  },
});

const getService = createRoute({
  method: "get",
  path: "/services/{name}",
  tags: ["system"],
  summary: "Last recorded health of one function (no new check is run); ADMIN+",
  ...guarded("admin:read"),
  request: {
    params: z.object({
      name: z
        .string()
        .regex(/^[a-z][a-z0-9-]{1,39}$/, "must be a function name: lowercase letters, digits and dashes")
        .openapi({ example: "system" }),
    }),
  },
  responses: {
    200: jsonResponse(ServiceRecordSchema, "Last check"),
    ...problemResponses(400, 401, 403, 404, 429, 500),
  },
});

const getMetrics = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["system"],
  summary: "Prometheus metrics summed over every isolate; ADMIN+, or `Authorization: Bearer <METRICS_SCRAPE_TOKEN>`",
  middleware: scrapeTokenOr("admin:read"),
  "x-permission": "admin:read",
  responses: {
    200: { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: z.string() } } },
    ...problemResponses(401, 403, 429, 500),
  },
});

export const systemApp = createApp()
  .openapi(listServices, async (c) => c.json(await checkAndReport(c), 200))
  .openapi(checkServices, async (c) => c.json(await checkAndReport(c, c.req.valid("json").services), 200))
  .openapi(getService, async (c) => {
    const { name } = c.req.valid("param");
    const record = await callDurableObject("SystemDO", "getService", () => systemStub(c).getService(name));
    if (!record) {
      const known = FUNCTION_NAMES.includes(name);
      throw new ApiError(
        "not-found",
        known ? `"${name}" has not been checked yet; GET /api/v1/system/services runs the checks.` : `No function "${name}".`,
      );
    }
    return c.json(toJson(record), 200);
  })
  .openapi(getMetrics, async (c) => {
    await flushMetrics(c.env, true);
    const [series, open] = await Promise.all([
      callDurableObject("SystemDO", "getMetrics", () => systemStub(c).getMetrics()),
      callDurableObject("AdminDO", "openAlertsByRule", () => singleton(c.env, "ADMIN").openAlertsByRule()),
    ]);
    // Gauges read at scrape time (every alert rule has one: docs/prometheus/alerts.yml).
    const gauges = Object.entries(open).map(([rule, value]) => ({ name: "lucid_alerts_open", labels: labelText({ rule }), value }));
    return c.text(renderPrometheus([...series, ...gauges]), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });
