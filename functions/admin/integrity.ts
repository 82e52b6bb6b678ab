import { createRoute, z } from "@hono/zod-openapi";
import { STORE_TARGETS, type StoreCheckRow } from "../../durable-objects/admin/integrity.ts";
import { guarded } from "../middleware/authorize.ts";
import { createApp, jsonResponse, problemResponses } from "../openapi.ts";
import { auditAdmin, callAdmin, iso } from "./context.ts";

const StoreCheckSchema = z
  .object({
    target: z.enum(STORE_TARGETS),
    at: z.string().nullable().openapi({ description: "when the last check ran (null: none yet)" }),
    source: z.enum(["schedule", "request"]).nullable(),
    ok: z.boolean().nullable(),
    checked: z.number().int().nullable().openapi({ description: "chain: the last height that verified; audit: events that verified" }),
    firstBad: z.number().int().nullable().openapi({ description: "chain: the first bad block height; audit: the first bad event id" }),
    fault: z.string().nullable(),
    message: z.string().nullable(),
    nextDueAt: z.string().nullable().openapi({ description: "the next scheduled check (INTEGRITY_SCRUB_INTERVAL_SECONDS)" }),
  })
  .openapi("StoreIntegrityCheck");

function checkJson(row: StoreCheckRow) {
  const { dueAt, at, ...rest } = row;
  return { ...rest, at: iso(at), nextDueAt: dueAt ? iso(dueAt) : null };
}

const tags = ["admin"];

const listChecks = createRoute({
  method: "get",
  path: "/integrity",
  tags,
  summary: "The last re-verification of the chain's stored blocks and of the audit log's hash chain, and when the next is due",
  ...guarded("admin:read"),
  responses: {
    200: jsonResponse(z.object({ items: z.array(StoreCheckSchema) }), "One entry per store"),
    ...problemResponses(401, 403, 429, 500),
  },
});

const runCheck = createRoute({
  method: "post",
  path: "/integrity/{target}",
  tags,
  summary: "Re-verify the chain's stored blocks or the audit log now; a mismatch raises a critical alert `integrity:<target>`",
  ...guarded("admin:read"),
  request: { params: z.object({ target: z.enum(STORE_TARGETS) }) },
  responses: { 200: jsonResponse(StoreCheckSchema, "The result"), ...problemResponses(400, 401, 403, 429, 500) },
});

/** /api/v1/admin/integrity: tamper detection at rest for the chain and the audit log (AdminDO runs them on the scrub schedule). */
export const integrityApp = createApp()
  .openapi(listChecks, async (c) => {
    const rows = await callAdmin(c.env, "storeChecks", (stub) => stub.storeChecks());
    return c.json({ items: rows.map(checkJson) }, 200);
  })
  .openapi(runCheck, async (c) => {
    const { target } = c.req.valid("param");
    const row = await callAdmin(c.env, "checkStore", (stub) => stub.checkStore(target));
    await auditAdmin(c, {
      action: `${target}.integrity_check_requested`,
      outcome: row.ok ? "success" : "failure",
      targetId: target === "chain" ? "lucid-chain" : "audit-log",
      details: { checked: row.checked ?? 0 },
    });
    return c.json(checkJson(row), 200);
  });
