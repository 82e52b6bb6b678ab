import { Hono } from "hono";
import { z } from "zod";
import { HOST_HEADER, PUBLIC_KEY_HEADER } from "../../durable-objects/rdp-host/channel.ts";
import { ApiError } from "../../shared/errors.ts";
import { callDurableObject } from "../do-call.ts";
import { NODE_CREDENTIAL_HEADER, verifyNodeCredential } from "../nodes/credential.ts";
import type { AppEnv } from "../types.ts";
import { hostStub } from "./context.ts";
import { objectNamed } from "../../platform/objects.ts";

const HostId = z.string().regex(/^node_[0-9a-f-]{36}$/);
const BEARER = /^Bearer (\S+)$/;

/**
 * GET /hosts/:hostId/channel — the agent's WebSocket (shared/rdp/protocol.ts). The node
 * credential (full form: signature, expiry, pool revocation state) must name this host; the
 * node's registered Ed25519 key then authenticates every frame inside the DO.
 */
export const channelApp = new Hono<AppEnv>().get("/hosts/:hostId/channel", async (c) => {
  const hostId = HostId.safeParse(c.req.param("hostId"));
  if (!hostId.success)
    throw new ApiError("validation-failed", "The request path is invalid.", {
      errors: [{ location: "path", path: "hostId", message: "must be a node id (node_<uuid>)" }],
    });
  const token = c.req.header(NODE_CREDENTIAL_HEADER) ?? BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
  const claims = await verifyNodeCredential(c.env, c.get("config").JWT_SECRET_KEY, token);
  if (claims.sub !== hostId.data) throw new ApiError("forbidden", "This node credential belongs to another host.");
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("bad-request", "The agent channel is a WebSocket: send Upgrade: websocket.", {}, { Upgrade: "websocket" });
  }
  const node = await callDurableObject("NodePoolDO", "getNode", () => objectNamed(c.env, "NODE_POOLS", claims.pool).getNode(claims.sub));
  if (!node) throw new ApiError("not-found", `No node ${claims.sub}.`);
  const headers = new Headers(c.req.raw.headers);
  headers.set(HOST_HEADER, node.id);
  headers.set(PUBLIC_KEY_HEADER, node.publicKey);
  return hostStub(c, node.id).fetch(new Request(c.req.raw.url, { method: "GET", headers }));
});
