import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { audit } from "../audit.ts";
import { callDurableObject } from "../do-call.ts";
import { unwrap } from "../../shared/outcome.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { can } from "../../shared/rbac.ts";
import { guarded } from "../middleware/authorize.ts";
import { createApp, jsonBody, jsonResponse, problemResponses } from "../openapi.ts";
import { callSession, sessionStub } from "../sessions/context.ts";
import { actorFor, callHost, hostStub, operatorFor, visibleHosts } from "./context.ts";
import {
  AlertListSchema,
  AlertQuery,
  DesktopRequestSchema,
  DesktopSchema,
  HostParam,
  HostStatusSchema,
  LimitsSchema,
  ListQuery,
  MigrateSchema,
  NotifySchema,
  ReportHistorySchema,
  ReportQuery,
  ServerListSchema,
  ServerParam,
  ServerSchema,
  TransferSchema,
} from "./schemas.ts";

const tags = ["rdp"];

const createDesktop = createRoute({
  method: "post",
  path: "/desktops",
  tags,
  summary: "A desktop for one of your sessions: an RDP server on the session's host, with one-time credentials",
  request: { body: jsonBody(DesktopRequestSchema) },
  responses: {
    201: jsonResponse(DesktopSchema, "The desktop is starting; connect with these credentials"),
    ...problemResponses(400, 401, 404, 409, 429, 503),
  },
});

const listAll = createRoute({
  method: "get",
  path: "/servers",
  tags,
  summary: "RDP servers on every host the caller operates (admins: all hosts)",
  ...guarded("rdp:host:operate"),
  request: { query: ListQuery },
  responses: { 200: jsonResponse(ServerListSchema, "Servers, newest first per host"), ...problemResponses(400, 401, 403, 429) },
});

const listAlerts = createRoute({
  method: "get",
  path: "/alerts",
  tags,
  summary: "Monitor alerts (limit warnings and terminations) on every host (ADMIN)",
  ...guarded("rdp:manage:any"),
  request: { query: AlertQuery },
  responses: { 200: jsonResponse(AlertListSchema, "Alerts, newest first"), ...problemResponses(400, 401, 403, 429) },
});

const hostStatus = createRoute({
  method: "get",
  path: "/hosts/{hostId}",
  tags,
  summary: "A host's agent channel and load (its operator or an admin)",
  request: { params: HostParam },
  responses: { 200: jsonResponse(HostStatusSchema, "Host status"), ...problemResponses(400, 401, 404, 429) },
});

const hostServers = createRoute({
  method: "get",
  path: "/hosts/{hostId}/servers",
  tags,
  summary: "A host's RDP servers (its operator or an admin)",
  request: { params: HostParam, query: ListQuery },
  responses: { 200: jsonResponse(ServerListSchema, "Servers, newest first"), ...problemResponses(400, 401, 404, 429) },
});

const hostAlerts = createRoute({
  method: "get",
  path: "/hosts/{hostId}/alerts",
  tags,
  summary: "A host's monitor alerts (its operator or an admin)",
  request: { params: HostParam, query: AlertQuery },
  responses: { 200: jsonResponse(AlertListSchema, "Alerts, newest first"), ...problemResponses(400, 401, 404, 429) },
});

const serverReports = createRoute({
  method: "get",
  path: "/hosts/{hostId}/servers/{serverId}/reports",
  tags,
  summary: "A server's resource reports over the last `minutes` (kept a day), oldest first (its host's operator or an admin)",
  request: { params: ServerParam, query: ReportQuery },
  responses: { 200: jsonResponse(ReportHistorySchema, "Resource reports"), ...problemResponses(400, 401, 404, 429) },
});

const CommandAcceptedSchema = z.object({ commandId: z.string() }).openapi("RdpCommandAccepted");

const SERVER_PATH = "/hosts/{hostId}/servers/{serverId}";

/** A route on one server (`/hosts/{hostId}/servers/{serverId}…`): one JSON answer, or problem+json. */
function onServer<
  const M extends "get" | "post" | "put" | "delete",
  const P extends string,
  const R extends { params: typeof ServerParam; body?: ReturnType<typeof jsonBody> },
  S extends z.ZodType,
>(method: M, path: P, summary: string, request: R, answer: S) {
  return createRoute({
    method,
    path: `${SERVER_PATH}${path}` as `${typeof SERVER_PATH}${P}`,
    tags,
    summary,
    request,
    responses: { 200: jsonResponse(answer, "The result"), ...problemResponses(400, 401, 403, 404, 409, 429, 503) },
  });
}

const getServer = onServer("get", "", "One RDP server (owner, host operator or admin)", { params: ServerParam }, ServerSchema);

const connect = onServer("post", "/connect", "New one-time credentials (the owner or an admin)", { params: ServerParam }, DesktopSchema);

const transfer = onServer(
  "post",
  "/transfer",
  "Hand the desktop to another user (the owner or an admin)",
  { params: ServerParam, body: jsonBody(TransferSchema) },
  ServerSchema,
);

const migrate = createRoute({
  method: "post",
  path: "/hosts/{hostId}/servers/{serverId}/migrate",
  tags,
  summary: "Move the desktop to another host (the owner or an admin)",
  request: { params: ServerParam, body: jsonBody(MigrateSchema) },
  responses: { 201: jsonResponse(DesktopSchema, "The result"), ...problemResponses(400, 401, 403, 404, 409, 429, 503) },
});

const stop = onServer("post", "/stop", "Stop the desktop (owner, host operator or admin)", { params: ServerParam }, ServerSchema);

const destroy = onServer("delete", "", "Stop and destroy the server (host operator or admin)", { params: ServerParam }, ServerSchema);

const release = onServer(
  "post",
  "/release",
  "Reclaim the port of a server the agent cannot stop (host operator or admin)",
  { params: ServerParam },
  ServerSchema,
);

const limits = onServer(
  "put",
  "/limits",
  "Change the server's resource limits (host operator or admin)",
  { params: ServerParam, body: jsonBody(LimitsSchema) },
  ServerSchema,
);

const notify = onServer(
  "post",
  "/notify",
  "Show a message on the desktop (host operator or admin)",
  { params: ServerParam, body: jsonBody(NotifySchema) },
  CommandAcceptedSchema,
);

export const rdpRoutes = createApp()
  .openapi(createDesktop, async (c) => {
    const principal = principalOf(c);
    const body = c.req.valid("json");
    const config = c.get("config");
    const { ownerId, nodeId, state, rdp, interaction } = await callSession("get", () =>
      sessionStub(c, body.sessionId).get({ kind: "user", userId: principal.userId, role: principal.role }),
    );
    if (ownerId !== principal.userId && !can(principal.role, "rdp:manage:any")) throw new ApiError("not-found", "No such session.");
    if (state !== "created" && state !== "recording") {
      throw new ApiError("invalid-state", `The session is ${state}; desktops are for created or recording sessions.`, { state });
    }
    await actorFor(c, nodeId);
    const desktop = await callHost("createDesktop", () =>
      hostStub(c, nodeId).createDesktop({
        hostId: nodeId,
        sessionId: body.sessionId,
        ownerId,
        // The session's clipboard and audio policy, chosen at its creation, goes into the desktop's xrdp configuration.
        config: {
          resolution: body.resolution,
          colourDepth: body.colourDepth,
          backend: body.backend,
          clipboard: rdp.clipboard === true,
          audio: rdp.audio === true,
          // What the host's recorder records of input beside the pixels (fixed at the session's creation).
          interaction,
        },
        limits: {
          cpuSharePercent: config.RDP_CPU_SHARE_PERCENT,
          memoryMb: config.RDP_MEMORY_MB,
          diskMb: config.RDP_DISK_MB,
          bandwidthKbps: config.RDP_BANDWIDTH_KBPS,
          sessionTtlSeconds: Math.min(body.sessionTtlSeconds ?? config.RDP_SESSION_TTL_SECONDS, config.RDP_SESSION_TTL_SECONDS),
        },
      }),
    );
    return c.json(desktop, 201);
  })
  .openapi(listAll, async (c) => {
    const liveOnly = c.req.valid("query").live === "true";
    const hosts = await visibleHosts(c);
    const lists = await Promise.all(
      hosts.map((h) => callDurableObject("RdpHostDO", "listServers", () => hostStub(c, h).listServers({ liveOnly }))),
    );
    return c.json({ servers: lists.flat() }, 200);
  })
  .openapi(listAlerts, async (c) => {
    const { limit } = c.req.valid("query");
    const hosts = await visibleHosts(c);
    const lists = await Promise.all(hosts.map((h) => callDurableObject("RdpHostDO", "listAlerts", () => hostStub(c, h).listAlerts(limit))));
    const alerts = lists
      .flat()
      .sort((a, b) => b.at.localeCompare(a.at))
      .slice(0, limit);
    return c.json({ alerts }, 200);
  })
  .openapi(hostStatus, async (c) => {
    const { hostId } = c.req.valid("param");
    await operatorFor(c, hostId);
    const status = await callDurableObject("RdpHostDO", "hostStatus", () => hostStub(c, hostId).hostStatus());
    return c.json({ ...status, hostId }, 200);
  })
  .openapi(hostServers, async (c) => {
    const { hostId } = c.req.valid("param");
    await operatorFor(c, hostId);
    const liveOnly = c.req.valid("query").live === "true";
    return c.json(
      { servers: await callDurableObject("RdpHostDO", "listServers", () => hostStub(c, hostId).listServers({ liveOnly })) },
      200,
    );
  })
  .openapi(hostAlerts, async (c) => {
    const { hostId } = c.req.valid("param");
    await operatorFor(c, hostId);
    const { limit } = c.req.valid("query");
    return c.json({ alerts: await callDurableObject("RdpHostDO", "listAlerts", () => hostStub(c, hostId).listAlerts(limit)) }, 200);
  })
  .openapi(serverReports, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    await operatorFor(c, hostId);
    const { minutes, limit } = c.req.valid("query");
    const reports = await callDurableObject("RdpHostDO", "resourceHistory", () =>
      hostStub(c, hostId).resourceHistory(serverId, Date.now() - minutes * 60_000, limit),
    );
    if (!reports) throw new ApiError("not-found", `No RDP server ${serverId} on ${hostId}.`);
    return c.json({ serverId, reports: reports.map((r) => ({ ...r, at: new Date(r.at).toISOString() })) }, 200);
  })
  .openapi(getServer, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    return c.json(await callHost("getServer", () => hostStub(c, hostId).getServer(serverId, actor)), 200);
  })
  .openapi(connect, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    return c.json(await callHost("issueCredentials", () => hostStub(c, hostId).issueCredentials(serverId, actor)), 200);
  })
  .openapi(transfer, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    const { toUserId } = c.req.valid("json");
    return c.json(await callHost("transfer", () => hostStub(c, hostId).transfer(serverId, actor, toUserId)), 200);
  })
  .openapi(migrate, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const { toHostId } = c.req.valid("json");
    const actor = await actorFor(c, hostId);
    if (toHostId === hostId) throw new ApiError("conflict", "The desktop already runs on this host.");
    const source = await callHost("migrationSource", () => hostStub(c, hostId).migrationSource(serverId, actor));
    await actorFor(c, toHostId);
    const { user: _user, ...config } = source.config;
    const desktop = await callHost("createDesktop", () =>
      hostStub(c, toHostId).createDesktop({
        hostId: toHostId,
        sessionId: source.sessionId,
        ownerId: source.ownerId,
        config,
        limits: source.limits,
      }),
    );
    // The recording follows the desktop: the session is assigned to the new host now (its agent
    // fetches the key and continues from the old host's last chunk), the old host keeps a grace to
    // upload what it recorded before. Refused (a hand-over still pending): the new desktop goes again.
    const principal = principalOf(c);
    const handover = await callDurableObject("SessionDO", "handOver", () =>
      sessionStub(c, source.sessionId).handOver({ kind: "user", userId: principal.userId, role: principal.role }, hostId, toHostId),
    );
    if (!handover.ok) {
      const actorOnTarget = await actorFor(c, toHostId);
      await callDurableObject("RdpHostDO", "stop", () => hostStub(c, toHostId).stop(desktop.server.id, actorOnTarget, true));
      unwrap(handover);
    }
    await audit(c.env, {
      action: "rdp.desktop.migrated",
      outcome: "success",
      actorId: principal.userId,
      targetId: source.sessionId,
      details: { serverId, fromHost: hostId, toHost: toHostId, newServerId: desktop.server.id },
    });
    await callDurableObject("RdpHostDO", "migrated", () => hostStub(c, hostId).migrated(serverId, toHostId));
    return c.json(desktop, 201);
  })
  .openapi(stop, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    return c.json(await callHost("stop", () => hostStub(c, hostId).stop(serverId, actor, false)), 200);
  })
  .openapi(destroy, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    return c.json(await callHost("stop", () => hostStub(c, hostId).stop(serverId, actor, true)), 200);
  })
  .openapi(release, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    return c.json(await callHost("releasePort", () => hostStub(c, hostId).releasePort(serverId, actor)), 200);
  })
  .openapi(limits, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    const body = c.req.valid("json");
    return c.json(await callHost("updateLimits", () => hostStub(c, hostId).updateLimits(serverId, actor, body)), 200);
  })
  .openapi(notify, async (c) => {
    const { hostId, serverId } = c.req.valid("param");
    const actor = await actorFor(c, hostId);
    const { level, message } = c.req.valid("json");
    return c.json(await callHost("notify", () => hostStub(c, hostId).notify(serverId, actor, level, message)), 200);
  });
