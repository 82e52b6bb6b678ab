import { z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { CredentialRequestSchema } from "../../shared/nodes/protocol.ts";
import { callDurableObject } from "../do-call.ts";
import { can } from "../../shared/rbac.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { createApp, jsonBody, jsonResponse, routesTagged } from "../openapi.ts";
import type { NodeView } from "../../durable-objects/node-pool/views.ts";
import { directory, pool, visibleNode } from "./access.ts";
import { unwrap } from "../../shared/outcome.ts";
import { NODE_CREDENTIAL_HEADER, newCredential, signNodeCredential } from "./credential.ts";
import { CredentialSchema, LeaderboardSchema, NodeDetailSchema, NodeIdParam, NodeSchema, PayoutSchema } from "./schemas.ts";

const route = routesTagged("nodes");

const listNodes = route(
  "GET /",
  "Nodes: an operator's own; an admin's view of every node (or one operator's with ?operator=)",
  guarded("nodes:operate:own"),
  { 200: jsonResponse(z.object({ nodes: z.array(NodeSchema) }), "Nodes") },
  [400, 401, 403, 429],
  { request: { query: z.object({ operator: z.string().min(1).max(128).optional() }) } },
);

const leaderboard = route(
  "GET /leaderboard",
  "Nodes ranked by proven operational time (closed epochs)",
  guarded("nodes:operate:own"),
  { 200: jsonResponse(LeaderboardSchema, "Leaderboard") },
  [400, 401, 403, 429],
  { request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }) } },
);

const getNode = route(
  "GET /{id}",
  "One node with its uptime and credits per epoch, payouts and state history",
  guarded("nodes:operate:own"),
  { 200: jsonResponse(NodeDetailSchema, "Node") },
  [400, 401, 403, 404, 429],
  { request: { params: NodeIdParam, query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(48) }) } },
);

const triggerPayout = route(
  "POST /{id}/payouts",
  "Request a payout of everything accrued now (it must reach AUTO_PAYOUT_THRESHOLD)",
  guarded("nodes:operate:own"),
  { 201: jsonResponse(PayoutSchema, "Queued for payments") },
  [401, 403, 404, 409, 429],
  { request: { params: NodeIdParam } },
);

const newNodeCredential = route(
  "POST /{id}/credentials",
  "Issue a new node credential; signed by the node key over {kind:'lucid.node.credential.v1', nodeId, timestamp}",
  guarded("nodes:operate:own"),
  { 201: jsonResponse(CredentialSchema, "New credential, shown once") },
  [400, 401, 403, 404, 409, 429],
  { request: { params: NodeIdParam, body: jsonBody(CredentialRequestSchema) } },
);

const revokeCredential = route(
  "DELETE /{id}/credentials/{jti}",
  "Revoke a node credential (its operator or an admin)",
  guarded("nodes:operate:own"),
  { 200: jsonResponse(z.object({ jti: z.string(), revokedAt: z.string() }), "Revoked") },
  [400, 401, 403, 404, 429],
  { request: { params: NodeIdParam.extend({ jti: z.uuid() }) } },
);

export const operatorsApp = createApp()
  .openapi(listNodes, async (c) => {
    const principal = principalOf(c);
    const { operator } = c.req.valid("query");
    if (operator !== undefined && !can(principal.role, "nodes:manage:any") && operator !== principal.userId) {
      throw new ApiError("forbidden", "Only admins see other operators' nodes.");
    }
    const dir = directory(c);
    let nodes: NodeView[];
    if (can(principal.role, "nodes:manage:any") && operator === undefined) {
      const pools = await callDurableObject("NodeDirectoryDO", "listPools", () => dir.listPools());
      const perPool = await Promise.all(pools.map((p) => callDurableObject("NodePoolDO", "listNodes", () => pool(c, p.name).listNodes())));
      nodes = perPool.flat();
    } else {
      const placements = await callDurableObject("NodeDirectoryDO", "nodesOf", () => dir.nodesOf(operator ?? principal.userId));
      const byPool = new Map<string, { nodeId: string; pool: string; operatorId: string }[]>();
      for (const p of placements) byPool.set(p.pool, [...(byPool.get(p.pool) ?? []), p]);
      const perPool = await Promise.all(
        [...byPool].map(([name, list]) =>
          callDurableObject("NodePoolDO", "listNodes", () => pool(c, name).listNodes(list.map((p) => p.nodeId))),
        ),
      );
      nodes = perPool.flat();
    }
    return c.json({ nodes }, 200);
  })
  .openapi(leaderboard, async (c) => {
    const { limit } = c.req.valid("query");
    const pools = await callDurableObject("NodeDirectoryDO", "listPools", () => directory(c).listPools());
    const perPool = await Promise.all(
      pools.map((p) => callDurableObject("NodePoolDO", "leaderboard", () => pool(c, p.name).leaderboard(limit))),
    );
    const entries = perPool
      .flat()
      .sort((a, b) => b.operationalSeconds - a.operationalSeconds || a.nodeId.localeCompare(b.nodeId))
      .slice(0, limit)
      .map((entry, i) => ({ rank: i + 1, ...entry }));
    return c.json({ entries }, 200);
  })
  .openapi(getNode, async (c) => {
    const { id } = c.req.valid("param");
    const { limit } = c.req.valid("query");
    const { stub } = await visibleNode(c, id);
    const [node, history] = await Promise.all([
      callDurableObject("NodePoolDO", "getNode", () => stub.getNode(id)),
      callDurableObject("NodePoolDO", "nodeHistory", () => stub.nodeHistory(id, limit)),
    ]);
    if (!node) throw new ApiError("not-found", `No node ${id}.`);
    return c.json({ node, ...history }, 200);
  })
  .openapi(triggerPayout, async (c) => {
    const { id } = c.req.valid("param");
    const { stub, placement, principal } = await visibleNode(c, id);
    if (placement.operatorId !== principal.userId) throw new ApiError("forbidden", "Only the node's operator requests its payouts.");
    const payout = unwrap(await callDurableObject("NodePoolDO", "requestPayout", () => stub.requestPayout(id)));
    return c.json(payout, 201);
  })
  .openapi(newNodeCredential, async (c) => {
    const { id } = c.req.valid("param");
    const proof = c.req.valid("json");
    const config = c.get("config");
    const { stub, placement, principal } = await visibleNode(c, id);
    if (placement.operatorId !== principal.userId) throw new ApiError("forbidden", "Only the node's operator issues its credentials.");
    const credential = newCredential(config.NODE_CREDENTIAL_TTL_SECONDS);
    unwrap(await callDurableObject("NodePoolDO", "issueCredential", () => stub.issueCredential(id, proof, credential)));
    const token = await signNodeCredential(config.JWT_SECRET_KEY, id, placement.pool, credential);
    return c.json(
      { token, jti: credential.jti, expiresAt: new Date(credential.expiresAt).toISOString(), header: NODE_CREDENTIAL_HEADER },
      201,
    );
  })
  .openapi(revokeCredential, async (c) => {
    const { id, jti } = c.req.valid("param");
    const { stub, principal } = await visibleNode(c, id);
    const revoked = unwrap(
      await callDurableObject("NodePoolDO", "revokeCredential", () => stub.revokeCredential(id, jti, principal.userId)),
    );
    return c.json(revoked, 200);
  });
