import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import type { Listener } from "../../durable-objects/admin/index.ts";
import { principalFromHeader, principalOf } from "../middleware/authenticate.ts";
import { nodeCredential } from "../middleware/node-credential.ts";
import { createApp, jsonResponse, problemResponses } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { adminStub, callAdmin } from "./context.ts";

const tags = ["notifications"];

/** Signed-in users listen as clients, Pi agents (node credential) as agents. */
function listenerOf(c: Context<AppEnv>): Listener {
  if (c.get("node")) return "agent";
  principalOf(c);
  return "client";
}

/**
 * Browsers cannot set Authorization on a WebSocket: they offer the subprotocols
 * `lucid` and `lucid.bearer.<access token>`; the server verifies the token and selects `lucid`.
 */
const BEARER_PROTOCOL = "lucid.bearer.";

async function browserListener(c: Context<AppEnv>): Promise<boolean> {
  const offered = (c.req.header("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
  const token = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length);
  if (!token || !offered.includes("lucid") || c.get("principal") || c.get("node")) return false;
  c.set("principal", await principalFromHeader(`Bearer ${token}`, c.get("config")));
  return true;
}

const recent = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Broadcast notifications (not retracted) for the caller — a user (clients) or a node (agents) — after `after`, oldest first",
  request: {
    query: z
      .object({ after: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(200).default(50) })
      .strict(),
  },
  responses: {
    200: jsonResponse(
      z.object({
        items: z.array(
          z.object({
            id: z.number().int(),
            type: z.string(),
            at: z.string(),
            audience: z.string(),
            severity: z.string(),
            title: z.string(),
            body: z.string(),
          }),
        ),
      }),
      "Notifications",
    ),
    ...problemResponses(400, 401, 429, 500),
  },
});

const live = createRoute({
  method: "get",
  path: "/live",
  tags,
  summary: "WebSocket: a `hello` (emergency state and recent notifications), then every notification, retraction and emergency change",
  // Browsers authenticate with the subprotocols `lucid` + `lucid.bearer.<access token>`; others with Authorization or a node credential.
  description:
    'Messages: `{ "type": "hello", listener, emergency, recent }`, then `{ "type": "notification" | "retraction" | "emergency", id, at, audience, severity, title, body }`. ' +
    'The client may send `{"type":"ping"}` (answered with `{"type":"pong"}`); anything else closes the socket. ' +
    "`after=<id>` resumes: every notification after that id follows the hello (then `recent` is empty), so a listener that keeps the last id it saw misses none and sees none twice.",
  request: { query: z.object({ after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }).strict() },
  responses: { 101: { description: "Switching to WebSocket" }, ...problemResponses(401, 426, 429, 500) },
});

const notifications = createApp();
notifications.use("*", nodeCredential());

/** Chained after the middleware so the routes' types reach AppType (functions/client.ts). */
export const notificationsApp = notifications
  .openapi(recent, async (c) => {
    const listener = listenerOf(c);
    const { after, limit } = c.req.valid("query");
    return c.json(
      { items: await callAdmin(c.env, "recentNotifications", (stub) => stub.recentNotifications(listener, after, limit)) },
      200,
    );
  })
  .openapi(live, async (c) => {
    const viaProtocol = await browserListener(c);
    const listener = listenerOf(c);
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
      throw new ApiError("upgrade-required", "Connect with a WebSocket (Upgrade: websocket).");
    const request = new Request(c.req.raw);
    request.headers.set("X-Lucid-Listener", listener);
    if (viaProtocol) request.headers.set("X-Lucid-Subprotocol", "lucid");
    const { after } = c.req.valid("query");
    if (after !== undefined) request.headers.set("X-Lucid-After", String(after));
    return adminStub(c.env).fetch(request);
  });
