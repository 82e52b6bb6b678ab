import { createRoute, z } from "@hono/zod-openapi";
import { audit } from "../audit.ts";
import { guarded } from "../middleware/authorize.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { createApp, jsonBody, jsonResponse, problemResponses } from "../openapi.ts";
import { callSession, sessionJson, sessionStub, userActorOf } from "./context.ts";
import { SessionIdParam, SessionSchema } from "./schemas.ts";

const HoldBody = z
  .object({ reason: z.string().trim().min(1).max(500) })
  .strict()
  .openapi("LegalHoldRequest");

const placeHold = createRoute({
  method: "put",
  path: "/{id}/hold",
  tags: ["sessions"],
  summary: "Put the session under legal hold (ADMIN): retention skips it and deleting it is refused (409 legal-hold) until lifted",
  description: "A repeat replaces the reason. Audited as `sessions.legal_hold`.",
  ...guarded("recordings:hold"),
  request: { params: SessionIdParam, body: jsonBody(HoldBody) },
  responses: { 200: jsonResponse(SessionSchema, "Held"), ...problemResponses(400, 401, 403, 404, 410, 413, 415, 429, 500) },
});

const liftHold = createRoute({
  method: "delete",
  path: "/{id}/hold",
  tags: ["sessions"],
  summary: "Lift the session's legal hold (ADMIN); retention runs again (at once if the session expired meanwhile)",
  description: "Audited as `sessions.legal_hold_lifted`. 409 when the session is not held.",
  ...guarded("recordings:hold"),
  request: { params: SessionIdParam },
  responses: { 200: jsonResponse(SessionSchema, "Released"), ...problemResponses(400, 401, 403, 404, 409, 429, 500) },
});

/** PUT/DELETE /api/v1/sessions/{id}/hold: legal hold (durable-objects/session/hold.ts). */
export const holdRoutes = createApp()
  .openapi(placeHold, async (c) => {
    const { id } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const actor = userActorOf(c);
    const before = await callSession("get", () => sessionStub(c, id).get(actor));
    const view = await callSession("hold", () => sessionStub(c, id).hold(actor, reason));
    await audit(c.env, {
      action: "sessions.legal_hold",
      outcome: "success",
      actorId: actor.userId,
      targetId: id,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: { reason },
      before: { legalHold: before.legalHold },
      after: { legalHold: view.legalHold },
    });
    return c.json(sessionJson(view), 200);
  })
  .openapi(liftHold, async (c) => {
    const { id } = c.req.valid("param");
    const actor = userActorOf(c);
    const before = await callSession("get", () => sessionStub(c, id).get(actor));
    const view = await callSession("liftHold", () => sessionStub(c, id).liftHold(actor));
    await audit(c.env, {
      action: "sessions.legal_hold_lifted",
      outcome: "success",
      actorId: actor.userId,
      targetId: id,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: { reason: before.legalHold?.reason ?? "" },
      before: { legalHold: before.legalHold },
      after: { legalHold: null },
    });
    return c.json(sessionJson(view), 200);
  });
