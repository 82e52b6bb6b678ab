import { z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { callDurableObject } from "../do-call.ts";
import { assignSessionToNode, placeableNode } from "../nodes/access.ts";
import { createApp, jsonBody, jsonResponse, routesTagged, validationHook } from "../openapi.ts";
import {
  actorOf,
  CALLER_CHECKED,
  callSession,
  decodeCursor,
  encodeCursor,
  indexStub,
  mayManageAny,
  sessionJson,
  sessionStub,
  summaryJson,
  userActorOf,
} from "./context.ts";
import {
  CreateSessionBody,
  DataKeySchema,
  EventSchema,
  ListQuery,
  SearchQuery,
  SearchResultSchema,
  SessionIdParam,
  SessionPageSchema,
  SessionSchema,
  StopBody,
} from "./schemas.ts";

const route = routesTagged("sessions");

const createSession = route(
  "POST /",
  "Create a session for a node (owner = the caller; admins may set ownerId); generates its data key",
  CALLER_CHECKED,
  { 201: jsonResponse(SessionSchema, "Created") },
  [400, 401, 403, 409, 413, 415, 422, 429, 500],
  { request: { body: jsonBody(CreateSessionBody) } },
);

const listSessions = route(
  "GET /",
  "List sessions, newest first (users see their own; admins all), with cursor pagination and filters",
  CALLER_CHECKED,
  { 200: jsonResponse(SessionPageSchema, "A page") },
  [400, 401, 403, 429, 500],
  { request: { query: ListQuery } },
);

const searchSessions = route(
  "GET /search",
  "Full-text search over title, tags, notes, owner, node and state (bm25 ranking, highlighted snippet), then recorded window titles and typed text",
  CALLER_CHECKED,
  { 200: jsonResponse(SearchResultSchema, "Matches, best first") },
  [400, 401, 403, 429, 500],
  {
    description:
      "Metadata matches come first, by bm25. Then sessions whose recorded window titles (policy metadata or full) or typed text " +
      "(policy full) hold every query word as a whole word in one chunk; `matches` says where and from which chunk. " +
      "Recording terms are stored as keyed tokens only and disappear with the recording.",
    request: { query: SearchQuery },
  },
);

/**
 * A route on one session (`/{id}…`): the id validated, one JSON answer, or problem+json: a bad id, no caller,
 * not theirs, no such session, rate limited, failed, and the route's own `also`.
 */
function onSession<
  const T extends `${"GET" | "POST" | "DELETE"} /{id}${string}`,
  const A extends ReturnType<typeof jsonResponse>,
  const E extends number = never,
>(endpoint: T, summary: string, answer: A, also: E[] = [], description?: string) {
  return route(endpoint, summary, CALLER_CHECKED, { 200: answer }, [400, 401, 403, 404, 429, 500, ...also], {
    description,
    request: { params: SessionIdParam },
  });
}

const getSession = onSession("GET /{id}", "One session (owner, admin or its assigned node)", jsonResponse(SessionSchema, "The session"));

const sessionEvents = onSession(
  "GET /{id}/events",
  "The session's event log: every transition, stored chunk and failed step, in order",
  jsonResponse(z.object({ items: z.array(EventSchema) }), "Events"),
);

const startSession = onSession(
  "POST /{id}/start",
  "created → recording: chunk uploads are accepted from now on",
  jsonResponse(SessionSchema, "Recording"),
  [409],
);

const stopSession = onSession(
  "POST /{id}/stop",
  "recording → processing: ends uploads and finalizes the Merkle manifest; refused with `missing` indices while there are gaps",
  jsonResponse(SessionSchema, "Processing"),
  [409],
  "Optional JSON body `{ chunkCount }`: the number of chunks the agent produced (default: highest stored index + 1).",
);

const deleteSession = onSession(
  "DELETE /{id}",
  "Delete the chunks and destroy the data key (crypto-shredding); the record, manifest and proofs stay",
  jsonResponse(SessionSchema, "Deleted"),
);

const getKey = onSession(
  "GET /{id}/key",
  "The session's data key: for its node (to encrypt) and its owner (to decrypt); an admin gets 403 and shares it instead (POST …/shares)",
  jsonResponse(DataKeySchema, "The key"),
  [410],
);

const liveStatus = route(
  "GET /{id}/live",
  "WebSocket status stream: the session's status now, then one message per change (state, chunks, root)",
  CALLER_CHECKED,
  { 101: { description: "Switching to WebSocket" } },
  [400, 401, 403, 404, 426, 429, 500],
  {
    description:
      'Messages: `{ "type": "status", sessionId, state, version, chunks, merkleRoot, keyShredded, updatedAt }`. ' +
      'The client may send `{ "type": "ping" }` (answered with `{ "type": "pong" }`); anything else closes the socket.',
    request: { params: SessionIdParam },
  },
);

export const sessionRoutes = createApp()
  .openapi(createSession, async (c) => {
    const actor = userActorOf(c);
    const body = c.req.valid("json");
    if (body.ownerId !== undefined && body.ownerId !== actor.userId && !mayManageAny(actor)) {
      throw new ApiError("forbidden", "Only admins may create sessions for another user.");
    }
    const placement = await placeableNode(c, body.nodeId);
    const id = crypto.randomUUID();
    await assignSessionToNode(c, placement.pool, body.nodeId, id);
    const view = await callSession("create", () =>
      sessionStub(c, id).create({
        id,
        ownerId: body.ownerId ?? actor.userId,
        nodeId: body.nodeId,
        title: body.title,
        tags: body.tags,
        notes: body.notes,
        rdp: body.rdp,
        interaction: body.interaction,
      }),
    );
    return c.json(sessionJson(view), 201, { Location: `/api/v1/sessions/${id}` });
  })
  .openapi(listSessions, async (c) => {
    const actor = userActorOf(c);
    const query = c.req.valid("query");
    if (query.ownerId !== undefined && query.ownerId !== actor.userId && !mayManageAny(actor)) {
      throw new ApiError("forbidden", "Only admins may list other users' sessions.");
    }
    const limit = query.limit ?? 20;
    const page = await callDurableObject("SessionIndexDO", "list", () =>
      indexStub(c).list({
        ownerId: mayManageAny(actor) ? query.ownerId : actor.userId,
        nodeId: query.nodeId,
        state: query.state,
        createdFrom: query.createdFrom ? Date.parse(query.createdFrom) : undefined,
        createdTo: query.createdTo ? Date.parse(query.createdTo) : undefined,
        after: query.cursor ? decodeCursor(query.cursor) : undefined,
        limit,
      }),
    );
    const last = page.items[page.items.length - 1];
    return c.json({ items: page.items.map(summaryJson), nextCursor: page.more && last ? encodeCursor(last) : null }, 200);
  })
  .openapi(searchSessions, async (c) => {
    const actor = userActorOf(c);
    const { q, limit } = c.req.valid("query");
    const hits = await callDurableObject("SessionIndexDO", "search", () =>
      indexStub(c).search(q, { ownerId: mayManageAny(actor) ? undefined : actor.userId, limit: limit ?? 20 }),
    );
    return c.json({ items: hits.map((h) => ({ ...summaryJson(h.summary), rank: h.rank, snippet: h.snippet, matches: h.matches })) }, 200);
  })
  .openapi(getSession, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    return c.json(sessionJson(await callSession("get", () => sessionStub(c, id).get(actor))), 200);
  })
  .openapi(sessionEvents, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    const events = await callSession("events", () => sessionStub(c, id).events(actor));
    return c.json(
      {
        items: events.map((e) => ({
          ...e,
          at: new Date(e.at).toISOString(),
          detail: e.detail === null ? null : (JSON.parse(e.detail) as unknown),
        })),
      },
      200,
    );
  })
  .openapi(startSession, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    return c.json(sessionJson(await callSession("start", () => sessionStub(c, id).start(actor))), 200);
  })
  .openapi(stopSession, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    const body = await optionalJson(c.req.raw, StopBody);
    return c.json(sessionJson(await callSession("stop", () => sessionStub(c, id).stop(actor, body.chunkCount))), 200);
  })
  .openapi(deleteSession, async (c) => {
    const { id } = c.req.valid("param");
    const actor = userActorOf(c);
    return c.json(sessionJson(await callSession("remove", () => sessionStub(c, id).remove(actor))), 200);
  })
  .openapi(liveStatus, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("upgrade-required", "Connect with a WebSocket (Upgrade: websocket).");
    }
    await callSession("get", () => sessionStub(c, id).get(actor));
    return sessionStub(c, id).fetch(c.req.raw);
  })
  .openapi(getKey, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    const key = await callSession("releaseKey", () => sessionStub(c, id).releaseKey(actor));
    return c.json({ sessionId: id, ...key }, 200, { "Cache-Control": "no-store" });
  });

/** A body that may be absent or empty; when present it must be JSON matching `schema`. */
async function optionalJson<T extends z.ZodType>(request: Request, schema: T): Promise<z.output<T>> {
  const text = await request.text();
  if (text.trim() === "") return schema.parse({});
  const type = request.headers.get("Content-Type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new ApiError("unsupported-media-type", "The body must be application/json.");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("malformed-json", "The request body is not valid JSON.");
  }
  const result = schema.safeParse(value);
  validationHook({ ...result, target: "json" } as never, undefined as never);
  return result.data as z.output<T>;
}
