import { z } from "@hono/zod-openapi";
import { auditAdmin } from "../admin/context.ts";
import { callDurableObject } from "../do-call.ts";
import { guarded } from "../middleware/authorize.ts";
import { createApp, jsonBody, jsonResponse, routesTagged } from "../openapi.ts";
import { pool, visibleNode } from "./access.ts";
import { unwrap } from "../../shared/outcome.ts";
import { EpochSchema, NodeIdParam, NodeSchema } from "./schemas.ts";

const route = routesTagged("nodes");

const EpochReviewSchema = z
  .object({
    /** release: accrue the epoch as the server observed it (never as the node reported); reject: drop it. */
    decision: z.enum(["release", "reject"]),
  })
  .strict()
  .openapi("NodeEpochReview");

const reviewEpoch = route(
  "POST /{id}/epochs/{epoch}/review",
  "Decide on an epoch held for review because the node's report disagreed with what the server saw (ADMIN)",
  guarded("nodes:manage:any"),
  { 200: jsonResponse(EpochSchema, "The epoch after the decision") },
  [400, 401, 403, 404, 409, 429],
  {
    request: {
      params: NodeIdParam.extend({ epoch: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
      body: jsonBody(EpochReviewSchema),
    },
  },
);

const SuspensionSchema = z
  .object({
    /** true suspends (heartbeats and credentials refused); false reinstates (offline until the next beat). */
    suspended: z.boolean(),
    reason: z.string().trim().min(1).max(500),
  })
  .strict()
  .openapi("NodeSuspension");

const setSuspension = route(
  "PUT /{id}/suspension",
  "Suspend or reinstate a node (ADMIN)",
  guarded("nodes:manage:any"),
  { 200: jsonResponse(NodeSchema, "The node after the change") },
  [400, 401, 403, 404, 409, 429],
  { request: { params: NodeIdParam, body: jsonBody(SuspensionSchema) } },
);

const terminateNode = route(
  "DELETE /{id}",
  "Terminate a node for good (its operator or an admin): every credential is revoked, history stays",
  guarded("nodes:operate:own"),
  { 200: jsonResponse(NodeSchema, "The terminated node") },
  [400, 401, 403, 404, 429],
  { request: { params: NodeIdParam } },
);

export const lifecycleApp = createApp()
  .openapi(reviewEpoch, async (c) => {
    const { id, epoch } = c.req.valid("param");
    const { decision } = c.req.valid("json");
    const { placement, principal } = await visibleNode(c, id);
    const reviewed = unwrap(
      await callDurableObject("NodePoolDO", "reviewEpoch", () =>
        pool(c, placement.pool).reviewEpoch({ nodeId: id, epoch, decision, actor: principal.userId }),
      ),
    );
    await auditAdmin(c, {
      action: "admin.node_epoch_review",
      outcome: "success",
      targetId: `${id}:${epoch}`,
      details: { decision, credits: reviewed.credits, earned: reviewed.earned },
      before: { status: "held" },
      after: { status: reviewed.status },
    });
    return c.json(reviewed, 200);
  })
  .openapi(setSuspension, async (c) => {
    const { id } = c.req.valid("param");
    const { suspended, reason } = c.req.valid("json");
    const { placement, principal } = await visibleNode(c, id);
    const outcome = await callDurableObject("NodePoolDO", "setSuspended", () =>
      pool(c, placement.pool).setSuspended({ nodeId: id, suspended, actor: principal.userId, reason }),
    );
    return c.json(unwrap(outcome), 200);
  })
  .openapi(terminateNode, async (c) => {
    const { id } = c.req.valid("param");
    const { placement, principal } = await visibleNode(c, id);
    const outcome = await callDurableObject("NodePoolDO", "terminate", () =>
      pool(c, placement.pool).terminate({ nodeId: id, actor: principal.userId, reason: "terminated" }),
    );
    return c.json(unwrap(outcome), 200);
  });
