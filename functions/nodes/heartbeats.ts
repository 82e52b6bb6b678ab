import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { HeartbeatSchema } from "../../shared/nodes/protocol.ts";
import { callDurableObject } from "../do-call.ts";
import { createApp, problemResponses } from "../openapi.ts";
import { pool } from "./access.ts";
import { unwrap } from "../../shared/outcome.ts";
import { decodeNodeCredential, NODE_CREDENTIAL_HEADER } from "./credential.ts";
import { HeartbeatAcceptedSchema, NodeIdParam } from "./schemas.ts";

const sendHeartbeat = createRoute({
  method: "post",
  path: "/{id}/heartbeats",
  tags: ["nodes"],
  summary: "A node's signed heartbeat (node credential in X-Node-Credential)",
  description:
    "`signature` is Ed25519 over the canonical JSON of {kind:'lucid.node.heartbeat.v1', nodeId, seq, sentAt, report}. " +
    "`seq` must exceed the last accepted one; `sentAt` (ms) must be within HEARTBEAT_MAX_SKEW_SECONDS. A refused beat stores nothing.",
  // The credential is checked before the body, so an anonymous caller learns nothing but 401.
  middleware: [
    async function requireNodeCredential(c, next) {
      await decodeNodeCredential(c.get("config").JWT_SECRET_KEY, c.req.header(NODE_CREDENTIAL_HEADER));
      await next();
    },
  ] as const,
  request: {
    params: NodeIdParam,
    headers: z.object({ [NODE_CREDENTIAL_HEADER.toLowerCase()]: z.string().max(4096).optional() }),
    body: { required: true, content: { "application/json": { schema: HeartbeatSchema } } },
  },
  responses: {
    200: { description: "Accepted", content: { "application/json": { schema: HeartbeatAcceptedSchema } } },
    ...problemResponses(400, 401, 404, 409, 413, 415, 429),
  },
});

export const heartbeatsApp = createApp().openapi(sendHeartbeat, async (c) => {
  const { id } = c.req.valid("param");
  const claims = await decodeNodeCredential(c.get("config").JWT_SECRET_KEY, c.req.header(NODE_CREDENTIAL_HEADER));
  if (claims.sub !== id) throw new ApiError("forbidden", "This credential belongs to another node.");
  const beat = c.req.valid("json");
  const accepted = unwrap(await callDurableObject("NodePoolDO", "heartbeat", () => pool(c, claims.pool).heartbeat(id, claims.jti, beat)));
  return c.json({ accepted: true as const, ...accepted }, 200);
});
