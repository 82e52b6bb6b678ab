import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { createApp, jsonBody, jsonResponse, problemResponses } from "../openapi.ts";
import { actorOf, callSession, sessionStub } from "./context.ts";
import { SessionIdParam } from "./schemas.ts";

const HandoverSchema = z
  .object({
    fromNode: z.string(),
    toNode: z.string(),
    at: z.string(),
    graceUntil: z.string(),
    firstIndex: z.number().int().nullable(),
    settledBy: z.enum(["node", "grace"]).nullable(),
  })
  .openapi("SessionHandover");

const HandoversSchema = z
  .object({
    nodeId: z.string().openapi({ description: "the node the session is assigned to now" }),
    firstIndex: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "the assigned node's first chunk index (null while the previous node may still declare its count)" }),
    handovers: z.array(HandoverSchema),
  })
  .openapi("SessionHandovers");

const SealBody = z
  .object({
    chunkCount: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31),
  })
  .strict();

const getHandovers = createRoute({
  method: "get",
  path: "/{id}/handover",
  tags: ["sessions"],
  summary:
    "The session's hand-overs between nodes and the assigned node's first chunk index (its node, the previous node in its grace, owner or admin)",
  request: { params: SessionIdParam },
  responses: { 200: jsonResponse(HandoversSchema, "Hand-overs, oldest first"), ...problemResponses(400, 401, 403, 404, 429, 500) },
});

const sealHandover = createRoute({
  method: "post",
  path: "/{id}/handover/seal",
  tags: ["sessions"],
  summary: "The previous node declares how many chunks it recorded before the hand-over (node credential)",
  request: { params: SessionIdParam, body: jsonBody(SealBody) },
  responses: { 200: jsonResponse(HandoverSchema, "The settled hand-over"), ...problemResponses(400, 401, 403, 404, 409, 429, 500) },
});

const iso = (ms: number) => new Date(ms).toISOString();
const handoverJson = (h: {
  fromNode: string;
  toNode: string;
  at: number;
  graceUntil: number;
  firstIndex: number | null;
  settledBy: "node" | "grace" | null;
}) => ({
  ...h,
  at: iso(h.at),
  graceUntil: iso(h.graceUntil),
});

/** /api/v1/sessions/{id}/handover: how a migrated desktop's recording continues on its new node (docs/rdp.md). */
export const handoverRoutes = createApp()
  .openapi(getHandovers, async (c) => {
    const { id } = c.req.valid("param");
    const result = await callSession("handovers", () => sessionStub(c, id).handovers(actorOf(c)));
    return c.json({ ...result, handovers: result.handovers.map(handoverJson) }, 200, { "Cache-Control": "no-store" });
  })
  .openapi(sealHandover, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    if (actor.kind !== "node") throw new ApiError("forbidden", "Only the node that handed the session over declares its chunks.");
    const { chunkCount } = c.req.valid("json");
    return c.json(handoverJson(await callSession("sealHandover", () => sessionStub(c, id).sealHandover(actor, chunkCount))), 200);
  });
