import { createRoute, z } from "@hono/zod-openapi";
import type { Context, Next } from "hono";
import type { AppEnv } from "../types.ts";
import { ApiError } from "../../shared/errors.ts";
import { HeartbeatSchema } from "../../shared/nodes/protocol.ts";
import { callDurableObject } from "../do-call.ts";
import { createApp, jsonBody, jsonResponse, problemResponses } from "../openapi.ts";
import { pool } from "./access.ts";
import { unwrap } from "../../shared/outcome.ts";
import { decodeNodeCredential, NODE_CREDENTIAL_HEADER } from "./credential.ts";
import { HeartbeatAcceptedSchema, HeartbeatChallengeSchema, NodeIdParam } from "./schemas.ts";

// The credential is checked before the body, so an anonymous caller learns nothing but 401.
async function requireNodeCredential(c: Context<AppEnv>, next: Next) {
  await decodeNodeCredential(c.get("config").JWT_SECRET_KEY, c.req.header(NODE_CREDENTIAL_HEADER));
  await next();
}
const credentialHeader = z.object({ [NODE_CREDENTIAL_HEADER.toLowerCase()]: z.string().max(4096).optional() });

const sendHeartbeat = createRoute({
  method: "post",
  path: "/{id}/heartbeats",
  tags: ["nodes"],
  summary: "A node's signed heartbeat (node credential in X-Node-Credential)",
  description:
    "`signature` is Ed25519 over the canonical JSON of {kind:'lucid.node.heartbeat.v2', nodeId, seq, challenge, sentAt, report}. " +
    "`challenge` is the one the pool handed out last (registration answer, previous accepted beat, or GET heartbeat-challenge); " +
    "a beat signing another is refused with 409 heartbeat-challenge, whose `challenge` carries the current one. " +
    "`seq` must exceed the last accepted one by at most NODE_HEARTBEAT_SEQ_WINDOW; `sentAt` (ms) must be within " +
    "HEARTBEAT_MAX_SKEW_SECONDS; the report's figures within what the node declared at enrolment. A refused beat stores nothing.",
  middleware: [requireNodeCredential] as const,
  request: {
    params: NodeIdParam,
    headers: credentialHeader,
    body: jsonBody(HeartbeatSchema),
  },
  responses: {
    200: jsonResponse(HeartbeatAcceptedSchema, "Accepted"),
    ...problemResponses(400, 401, 404, 409, 413, 415, 429),
  },
});

const getChallenge = createRoute({
  method: "get",
  path: "/{id}/heartbeat-challenge",
  tags: ["nodes"],
  summary: "The challenge the node's next heartbeat must sign (node credential in X-Node-Credential)",
  description:
    "For an agent that starts (or restarts) without the challenge of its last accepted beat. Reading does not rotate it; " +
    "the next accepted beat uses it up. `lastSeq` is the last accepted sequence number.",
  middleware: [requireNodeCredential] as const,
  request: { params: NodeIdParam, headers: credentialHeader },
  responses: {
    200: jsonResponse(HeartbeatChallengeSchema, "The current challenge"),
    ...problemResponses(400, 401, 403, 404, 429),
  },
});

async function nodeClaims(c: Context<AppEnv>, id: string) {
  const claims = await decodeNodeCredential(c.get("config").JWT_SECRET_KEY, c.req.header(NODE_CREDENTIAL_HEADER));
  if (claims.sub !== id) throw new ApiError("forbidden", "This credential belongs to another node.");
  return claims;
}

export const heartbeatsApp = createApp()
  .openapi(sendHeartbeat, async (c) => {
    const { id } = c.req.valid("param");
    const claims = await nodeClaims(c, id);
    const beat = c.req.valid("json");
    const accepted = unwrap(await callDurableObject("NodePoolDO", "heartbeat", () => pool(c, claims.pool).heartbeat(id, claims.jti, beat)));
    return c.json({ accepted: true as const, ...accepted }, 200);
  })
  .openapi(getChallenge, async (c) => {
    const { id } = c.req.valid("param");
    const claims = await nodeClaims(c, id);
    const current = unwrap(
      await callDurableObject("NodePoolDO", "heartbeatChallenge", () => pool(c, claims.pool).heartbeatChallenge(id, claims.jti)),
    );
    return c.json(current, 200);
  });
