import { createRoute } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { createApp, problemResponses } from "../openapi.ts";
import { callSession, sessionStub } from "./context.ts";
import { ChunkParams, ChunkTermsBody } from "./schemas.ts";

const putTerms = createRoute({
  method: "put",
  path: "/{id}/chunks/{index}/terms",
  tags: ["sessions"],
  summary: "A stored chunk's search terms: window titles and typed words (node credential of the assigned node)",
  description:
    "Sent after the chunk was uploaded (404 before). Under policy `none` any term, under `metadata` any word, is refused with " +
    "409 interaction-policy and nothing is kept. The server normalises the words (NFKC, lowercase, runs of letters and digits) " +
    "and keeps only keyed tokens (HMAC-SHA256), never the words; a repeat replaces the chunk's terms (idempotent).",
  request: { params: ChunkParams, body: { required: true, content: { "application/json": { schema: ChunkTermsBody } } } },
  responses: { 204: { description: "Kept (as tokens)" }, ...problemResponses(400, 401, 403, 404, 409, 410, 413, 415, 429, 500) },
});

/** PUT /api/v1/sessions/{id}/chunks/{index}/terms (durable-objects/session/terms.ts). */
export const termRoutes = createApp().openapi(putTerms, async (c) => {
  const { id, index } = c.req.valid("param");
  const node = c.get("node");
  if (!node) {
    principalOf(c);
    throw new ApiError("forbidden", "Search terms are sent with the assigned node's credential.");
  }
  const terms = c.req.valid("json");
  await callSession("putTerms", () => sessionStub(c, id).putTerms({ kind: "node", nodeId: node.nodeId }, index, terms));
  return c.body(null, 204);
});
