import { createRoute, z } from "@hono/zod-openapi";
import { logEvent } from "../../shared/log.ts";
import { raiseAlert } from "../admin/alerts.ts";
import { audit } from "../audit.ts";
import { callDurableObject } from "../do-call.ts";
import { guarded } from "../middleware/authorize.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { createApp, jsonResponse, problemResponses } from "../openapi.ts";
import { singleton } from "../../platform/objects.ts";

const ChainCheckSchema = z
  .object({
    at: z.string(),
    ok: z.boolean(),
    height: z.number().int().openapi({ description: "the last block checked (ok) or the first that fails" }),
    fault: z.string().nullable(),
    message: z.string().nullable(),
  })
  .openapi("ChainIntegrityCheck");

const chainIntegrityCheck = createRoute({
  method: "post",
  path: "/integrity-check",
  tags: ["chain"],
  summary: "Re-check every stored block from genesis (hash, signature, parent, producer, tx root, stored txs and index columns); ADMIN",
  description:
    "A failure names the first bad block and rule, is audited as `chain.integrity_check` and raises a critical alert `integrity:chain`.",
  ...guarded("admin:read"),
  responses: { 200: jsonResponse(ChainCheckSchema, "The result"), ...problemResponses(401, 403, 429, 500) },
});

/** POST /api/v1/chain/integrity-check: tamper detection at rest for the chain's stored blocks (ChainDO.audit). */
export const chainIntegrityRoutes = createApp().openapi(chainIntegrityCheck, async (c) => {
  const result = await callDurableObject("ChainDO", "audit", () => singleton(c.env, "CHAIN").audit());
  const at = new Date().toISOString();
  await audit(c.env, {
    action: "chain.integrity_check",
    outcome: result.ok ? "success" : "failure",
    actorId: principalOf(c).userId,
    targetId: "lucid-chain",
    ip: clientAddress(c),
    requestId: c.get("requestId"),
    details: result.ok ? { height: result.height } : { height: result.height, fault: result.fault, message: result.message.slice(0, 300) },
  });
  if (!result.ok) {
    logEvent("error", "chain.integrity_failure", { height: result.height, fault: result.fault });
    await raiseAlert(c.env, {
      key: "integrity:chain",
      severity: "critical",
      source: "integrity",
      title: `Stored chain block ${result.height} fails its check (${result.fault})`,
      detail: result.message.slice(0, 1500),
    });
  }
  return c.json(
    result.ok
      ? { at, ok: true, height: result.height, fault: null, message: null }
      : { at, ok: false, height: result.height, fault: result.fault, message: result.message },
    200,
  );
});
