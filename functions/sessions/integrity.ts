import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { logEvent } from "../../shared/log.ts";
import { audit } from "../audit.ts";
import { raiseAlert } from "../admin/alerts.ts";
import { metrics } from "../../platform/metrics.ts";
import { guarded } from "../middleware/authorize.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { createApp, jsonResponse, problemResponses } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { callSession, sessionStub, userActorOf } from "./context.ts";
import { IntegrityCheckSchema, SessionIdParam } from "./schemas.ts";

export interface DamagedChunk {
  sessionId: string;
  index: number;
  /**
   * What the store gave against what was received: "size" (a truncated or padded blob), "length"
   * (a short or long read) or "digest" (the bytes hash to something else).
   */
  reason: "size" | "length" | "digest";
  expected: number | string;
  found: number | string;
}

/**
 * Records a damaged stored chunk: a log line, a metric, an audit event `chunks.integrity_failure`,
 * the damage on the session (its chunk is never served again, the view's `lastIntegrityCheck`
 * shows it) and a critical alert for the admins.
 */
export async function reportDamagedChunk(c: Context<AppEnv>, damage: DamagedChunk): Promise<void> {
  metrics.inc("lucid_chunk_integrity_failures_total", { reason: damage.reason });
  logEvent("error", "chunks.integrity_failure", { requestId: c.get("requestId"), ...damage });
  const { sessionId, ...report } = damage;
  const results = await Promise.allSettled([
    audit(c.env, {
      action: "chunks.integrity_failure",
      outcome: "failure",
      targetId: sessionId,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: { index: damage.index, reason: damage.reason, expected: damage.expected, found: damage.found },
    }),
    callSession("reportDamage", () => sessionStub(c, sessionId).reportDamage(report)),
    raiseAlert(c.env, {
      key: `integrity:session:${sessionId}`,
      severity: "critical",
      source: "integrity",
      title: `Stored recording damaged: session ${sessionId}`,
      detail: `A download found chunk ${damage.index} damaged in the chunk store (${damage.reason}: expected ${damage.expected}, found ${damage.found}). It is not served; restore it from a backup and run POST /api/v1/sessions/${sessionId}/integrity-check.`,
    }),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length) {
    logEvent("error", "chunks.integrity_report_failed", { sessionId, index: damage.index, errors: failed.map((f) => String(f.reason)) });
    throw failed[0]!.reason;
  }
}

export function chunkCorrupt(index: number): ApiError {
  return new ApiError("chunk-corrupt", `Chunk ${index} is damaged in the chunk store; the event was recorded.`, { index });
}

const integrityCheck = createRoute({
  method: "post",
  path: "/{id}/integrity-check",
  tags: ["sessions"],
  summary: "Re-hash every stored chunk of the session against its manifest now (ADMIN); damaged chunks raise an alert",
  description:
    "The result becomes the session's `lastIntegrityCheck`; damaged chunks are refused on download until a later check finds them intact. " +
    "The scheduled scrub (INTEGRITY_SCRUB_INTERVAL_SECONDS) does the same.",
  ...guarded("recordings:manage:any"),
  request: { params: SessionIdParam },
  responses: { 200: jsonResponse(IntegrityCheckSchema, "The result"), ...problemResponses(400, 401, 403, 404, 410, 429, 500) },
});

export const integrityRoutes = createApp().openapi(integrityCheck, async (c) => {
  const { id } = c.req.valid("param");
  const actor = userActorOf(c);
  const result = await callSession("checkIntegrity", () => sessionStub(c, id).checkIntegrity(actor));
  await audit(c.env, {
    action: "sessions.integrity_check_requested",
    outcome: result.ok ? "success" : "failure",
    actorId: actor.userId,
    targetId: id,
    ip: clientAddress(c),
    requestId: c.get("requestId"),
    details: { checked: result.checked, bad: result.badChunks.length },
  });
  return c.json({ ...result, at: new Date(result.at).toISOString() }, 200);
});
