import { createRoute, z } from "@hono/zod-openapi";
import { ALERT_SEVERITIES, ALERT_STATES, alertInputSchema, type AlertInput, type AlertView } from "../../shared/admin.ts";
import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import { guarded } from "../middleware/authorize.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { createApp, jsonResponse, problemResponses } from "../openapi.ts";
import { unwrap } from "../../shared/outcome.ts";
import { auditAdmin, callAdmin, iso } from "./context.ts";

/**
 * Raises an alert for the admin dashboard (the API other functions call):
 *
 *   await raiseAlert(env, { key: `rdp:${hostId}:cpu`, severity: "warning", source: "rdp-monitor",
 *                           title: "CPU above 90 % for 5 minutes", detail: "…" });
 *
 * `key` de-duplicates: while an alert with that key is open (or acknowledged), a repeat counts
 * up and refreshes it instead of opening another. Throws on an invalid alert (zod) or when
 * AdminDO cannot be reached; callers on a best-effort path may catch and log.
 */
export async function raiseAlert(env: Env, alert: AlertInput): Promise<{ alert: AlertView; created: boolean }> {
  const parsed = alertInputSchema.parse(alert);
  const result = await callAdmin(env, "raiseAlert", (stub) => stub.raiseAlert(parsed));
  if (result.created) logEvent("warn", "admin.alert_raised", { key: parsed.key, severity: parsed.severity, source: parsed.source });
  return result;
}

export const AlertSchema = z
  .object({
    id: z.string().uuid(),
    key: z.string(),
    severity: z.enum(ALERT_SEVERITIES),
    source: z.string(),
    title: z.string(),
    detail: z.string().nullable(),
    state: z.enum(ALERT_STATES),
    count: z.number().int(),
    firstAt: z.string(),
    lastAt: z.string(),
    acknowledgedBy: z.string().nullable(),
    acknowledgedAt: z.string().nullable(),
    resolvedBy: z.string().nullable(),
    resolvedAt: z.string().nullable(),
  })
  .openapi("Alert");

export function alertJson(alert: AlertView) {
  return {
    ...alert,
    firstAt: iso(alert.firstAt)!,
    lastAt: iso(alert.lastAt)!,
    acknowledgedAt: iso(alert.acknowledgedAt),
    resolvedAt: iso(alert.resolvedAt),
  };
}

const AlertIdParam = z.object({ id: z.string().uuid("must be an alert id (UUID)") });
const tags = ["admin"];

const listAlerts = createRoute({
  method: "get",
  path: "/alerts",
  tags,
  summary: "Alerts from health checks and monitors, most recent first (`before` pages on lastAt)",
  ...guarded("admin:read"),
  request: {
    query: z.object({
      state: z.enum(ALERT_STATES).optional(),
      before: z.iso.datetime().optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: { 200: jsonResponse(z.object({ items: z.array(AlertSchema) }), "Alerts"), ...problemResponses(400, 401, 403, 429, 500) },
});

function transitionRoute(action: "acknowledge" | "resolve") {
  return createRoute({
    method: "post",
    path: `/alerts/{id}/${action}`,
    tags,
    summary: action === "acknowledge" ? "Acknowledge an open alert (audited)" : "Resolve an alert (audited)",
    ...guarded("admin:manage"),
    request: { params: AlertIdParam },
    responses: { 200: jsonResponse(AlertSchema, "The alert after the change"), ...problemResponses(400, 401, 403, 404, 409, 429, 500) },
  });
}

const DeliverySchema = z
  .object({
    id: z.number().int(),
    alertId: z.string(),
    alertKey: z.string(),
    event: z.enum(["raised", "resolved"]),
    channel: z.enum(["webhook", "mail"]),
    target: z.string().openapi({ description: "the webhook URL or mail address (from the deployment's configuration)" }),
    state: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
  })
  .openapi("AlertDelivery");

const listDeliveries = createRoute({
  method: "get",
  path: "/alerts/deliveries",
  tags,
  summary: "The alert delivery log (signed webhooks and mail), newest first; pending rows show their next attempt",
  ...guarded("admin:read"),
  request: {
    query: z.object({
      alertId: z.string().uuid().optional(),
      state: z.enum(["pending", "delivered", "failed"]).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(100),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ items: z.array(DeliverySchema) }), "Deliveries"),
    ...problemResponses(400, 401, 403, 429, 500),
  },
});

export const alertsApp = createApp()
  .openapi(listDeliveries, async (c) => {
    const filter = c.req.valid("query");
    const rows = await callAdmin(c.env, "alertDeliveries", (stub) => stub.alertDeliveries(filter));
    return c.json(
      {
        items: rows.map(({ payload: _payload, ...row }) => ({
          ...row,
          nextAttemptAt: row.state === "pending" ? iso(row.nextAttemptAt) : null,
          createdAt: iso(row.createdAt)!,
          deliveredAt: iso(row.deliveredAt),
        })),
      },
      200,
    );
  })
  .openapi(listAlerts, async (c) => {
    const { state, before, limit } = c.req.valid("query");
    const items = await callAdmin(c.env, "listAlerts", (stub) =>
      stub.listAlerts({ state, beforeLastAt: before ? Date.parse(before) : undefined, limit }),
    );
    return c.json({ items: items.map(alertJson) }, 200);
  })
  .openapi(transitionRoute("acknowledge"), async (c) => transition(c, c.req.valid("param").id, "acknowledged"))
  .openapi(transitionRoute("resolve"), async (c) => transition(c, c.req.valid("param").id, "resolved"));

async function transition(c: Parameters<typeof auditAdmin>[0], id: string, to: "acknowledged" | "resolved") {
  const actor = principalOf(c).userId;
  const { before, after } = unwrap(await callAdmin(c.env, "transitionAlert", (stub) => stub.transitionAlert(id, to, actor)));
  await auditAdmin(c, {
    action: `admin.alert_${to === "acknowledged" ? "acknowledge" : "resolve"}`,
    outcome: "success",
    targetId: id,
    before: { state: before.state },
    after: { state: after.state },
  });
  return c.json(alertJson(after), 200);
}
