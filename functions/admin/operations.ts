import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { NodeView } from "../../durable-objects/node-pool/views.ts";
import { ApiError } from "../../shared/errors.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { directory as nodeDirectory, pool } from "../nodes/access.ts";
import { unwrap } from "../../shared/outcome.ts";
import { NodeIdParam, NodeSchema } from "../nodes/schemas.ts";
import { createApp, jsonBody, jsonResponse, routesTagged } from "../openapi.ts";
import { ledger, ledgerPlain } from "../payments/ledger.ts";
import { Address, PayoutSchema } from "../payments/schemas.ts";
import { SessionIdParam, SessionSchema } from "../sessions/schemas.ts";
import { callSession, sessionJson, sessionStub } from "../sessions/context.ts";
import type { AppEnv } from "../types.ts";
import { alertJson, AlertSchema } from "./alerts.ts";
import { auditAdmin, auditStub, callAdmin } from "./context.ts";
import { ONE_FACTOR_MESSAGE, oneSecondFactor, requireSecondFactor, SecondFactorFields } from "./step-up.ts";
import { singleton } from "../../platform/objects.ts";

/**
 * Operations an admin performs on other functions' data. The owning Durable Objects keep their
 * rules (SessionDO, NodePoolDO, LedgerDO); these routes add the audit record with the target's
 * state before and after. Plain views (users, sessions, nodes, payouts) stay on their own APIs.
 */
const route = routesTagged("admin");
const reason = z.string().trim().min(3).max(500);
const ReasonBody = z.object({ reason }).strict();

const chainStub = (c: Context<AppEnv>) => singleton(c.env, "CHAIN");

async function allNodes(c: Context<AppEnv>): Promise<NodeView[]> {
  const pools = await callDurableObject("NodeDirectoryDO", "listPools", () => nodeDirectory(c).listPools());
  const lists = await Promise.all(pools.map((p) => callDurableObject("NodePoolDO", "listNodes", () => pool(c, p.name).listNodes())));
  return lists.flat();
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

const ChainStatusSchema = z
  .object({
    chain: z.string(),
    height: z.number().int(),
    headHash: z.string(),
    headTime: z.number().int(),
    transactions: z.number().int(),
    anchors: z.number().int(),
    mempool: z.number().int(),
    producer: z.string(),
    slotSeconds: z.number(),
    epochSlots: z.number().int(),
    audit: z.object({
      events: z.number().int(),
      head: z.string(),
      lastAnchoredEventId: z.number().int().nullable(),
      lastAnchorHeight: z.number().int().nullable(),
    }),
  })
  .openapi("AdminChainStatus");

const overview = route(
  "GET /overview",
  "Dashboard overview: emergency state, open alerts, nodes by state, payouts by state, chain and audit heads",
  guarded("admin:read"),
  {
    200: jsonResponse(
      z.object({
        emergency: z.object({ lockdown: z.boolean(), recordingsHalted: z.boolean(), sessionsShutdown: z.boolean() }),
        alerts: z.object({ open: z.number().int(), latest: z.array(AlertSchema) }),
        nodes: z.object({ total: z.number().int(), byState: z.record(z.string(), z.number().int()) }),
        payouts: z.object({ byState: z.record(z.string(), z.number().int()) }),
        chain: ChainStatusSchema,
      }),
      "Overview",
    ),
  },
);

const chainStatus = route(
  "GET /chain",
  "Chain status (height, head, mempool, producer) with the audit log's anchoring",
  guarded("admin:read"),
  { 200: jsonResponse(ChainStatusSchema, "Chain status") },
);

const listNodes = route(
  "GET /nodes",
  "Monitor every node in every pool (state, last heartbeat, uptime, credits), filterable by state",
  guarded("admin:read"),
  { 200: jsonResponse(z.object({ nodes: z.array(NodeSchema), byState: z.record(z.string(), z.number().int()) }), "Nodes") },
  [400, 401, 403, 429, 500],
  { request: { query: z.object({ state: NodeSchema.shape.state.optional() }).strict() } },
);

function suspensionRoute(action: "suspend" | "reinstate") {
  return route(
    `POST /nodes/{id}/${action}`,
    action === "suspend" ? "Suspend a node: its heartbeats and credentials are refused (audited)" : "Reinstate a suspended node (audited)",
    guarded("admin:manage"),
    { 200: jsonResponse(NodeSchema, "The node after the change") },
    [400, 401, 403, 404, 409, 413, 415, 429, 500],
    { request: { params: NodeIdParam, body: jsonBody(ReasonBody) } },
  );
}

const terminateSession = route(
  "POST /sessions/{id}/terminate",
  "Terminate a session: a recording one is stopped and finalized, one not yet started is cancelled (audited)",
  guarded("admin:manage"),
  { 200: jsonResponse(SessionSchema, "The session after the change") },
  [400, 401, 403, 404, 409, 413, 415, 429, 500],
  { request: { params: SessionIdParam, body: jsonBody(ReasonBody) } },
);

const PayoutIdParam = z.object({ id: z.string().uuid("must be a payout id (UUID)") });

const listPayouts = route(
  "GET /payouts",
  "Payouts awaiting approval (or any state)",
  guarded("admin:read"),
  { 200: jsonResponse(z.object({ payouts: z.array(PayoutSchema) }), "Payouts") },
  [400, 401, 403, 429, 500],
  {
    request: {
      query: z
        .object({ state: PayoutSchema.shape.state.default("requested"), limit: z.coerce.number().int().min(1).max(500).default(100) })
        .strict(),
    },
  },
);

const approvePayout = route(
  "POST /payouts/{id}/approve",
  "Approve a requested payout with a fresh TOTP or recovery code (LedgerDO signs and broadcasts it with the next batch; audited)",
  guarded("admin:manage"),
  { 200: jsonResponse(PayoutSchema, "Approved") },
  [400, 401, 403, 404, 409, 413, 415, 429, 500, 503],
  {
    request: {
      params: PayoutIdParam,
      body: jsonBody(
        z
          .object({ walletId: z.uuid().optional(), ...SecondFactorFields })
          .strict()
          .refine(oneSecondFactor, ONE_FACTOR_MESSAGE)
          .openapi("PayoutApproval"),
      ),
    },
  },
);

const rejectPayout = route(
  "POST /payouts/{id}/reject",
  "Reject a requested or approved payout (audited)",
  guarded("admin:manage"),
  { 200: jsonResponse(PayoutSchema, "Rejected") },
  [400, 401, 403, 404, 409, 413, 415, 429, 500],
  { request: { params: PayoutIdParam, body: jsonBody(ReasonBody) } },
);

const KycSchema = z.object({ address: z.string(), verified: z.boolean(), setBy: z.string(), setAt: z.string() }).openapi("KycFlag");

const setKyc = route(
  "PUT /kyc/{address}",
  "Set or clear a payout recipient's KYC flag (needed above KYC_REQUIRED_ABOVE; audited)",
  guarded("admin:manage"),
  { 200: jsonResponse(KycSchema, "KYC flag") },
  [400, 401, 403, 413, 415, 429, 500],
  { request: { params: z.object({ address: Address }), body: jsonBody(z.object({ verified: z.boolean(), reason }).strict()) } },
);

async function chainWithAudit(c: Context<AppEnv>) {
  const [stats, audit] = await Promise.all([
    callDurableObject("ChainDO", "stats", () => chainStub(c).stats()),
    callDurableObject("AuditDO", "anchorStatus", () => auditStub(c.env).anchorStatus()),
  ]);
  const anchored = audit.anchors.find((a) => a.blockHeight !== null);
  return {
    ...stats,
    audit: {
      events: audit.events,
      head: audit.head,
      lastAnchoredEventId: anchored?.eventId ?? null,
      lastAnchorHeight: anchored?.blockHeight ?? null,
    },
  };
}

export const operationsApp = createApp()
  .openapi(overview, async (c) => {
    const [emergency, openAlerts, nodes, payouts, chain] = await Promise.all([
      callAdmin(c.env, "emergency", (stub) => stub.emergency()),
      callAdmin(c.env, "listAlerts", (stub) => stub.listAlerts({ state: "open", limit: 200 })),
      allNodes(c),
      ledgerPlain(c, "listPayouts", (s) => s.listPayouts({ limit: 1000 })),
      chainWithAudit(c),
    ]);
    return c.json(
      {
        emergency: {
          lockdown: emergency.lockdown.active,
          recordingsHalted: emergency.recordings_halted.active,
          sessionsShutdown: emergency.sessions_shutdown.active,
        },
        alerts: { open: openAlerts.length, latest: openAlerts.slice(0, 5).map(alertJson) },
        nodes: { total: nodes.length, byState: countBy(nodes, (n) => n.state) },
        payouts: { byState: countBy(payouts, (p) => p.state) },
        chain,
      },
      200,
    );
  })
  .openapi(chainStatus, async (c) => c.json(await chainWithAudit(c), 200))
  .openapi(listNodes, async (c) => {
    const { state } = c.req.valid("query");
    const nodes = await allNodes(c);
    return c.json({ nodes: state ? nodes.filter((n) => n.state === state) : nodes, byState: countBy(nodes, (n) => n.state) }, 200);
  })
  .openapi(suspensionRoute("suspend"), async (c) => setSuspension(c, c.req.valid("param").id, true, c.req.valid("json").reason))
  .openapi(suspensionRoute("reinstate"), async (c) => setSuspension(c, c.req.valid("param").id, false, c.req.valid("json").reason))
  .openapi(terminateSession, async (c) => {
    const { id } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const principal = principalOf(c);
    const actor = { kind: "user" as const, userId: principal.userId, role: principal.role };
    const before = await callSession("get", () => sessionStub(c, id).get(actor));
    let after;
    if (before.state === "recording") after = await callSession("stop", () => sessionStub(c, id).stop(actor));
    else if (before.state === "created") after = await callSession("remove", () => sessionStub(c, id).remove(actor));
    else
      throw new ApiError(
        "invalid-state",
        `A ${before.state} session is not running; only created or recording sessions can be terminated.`,
        { state: before.state },
      );
    await auditAdmin(c, {
      action: "admin.session_terminate",
      outcome: "success",
      targetId: id,
      details: { reason },
      before: { state: before.state },
      after: { state: after.state },
    });
    return c.json(sessionJson(after), 200);
  })
  .openapi(listPayouts, async (c) => {
    const { state, limit } = c.req.valid("query");
    return c.json({ payouts: await ledgerPlain(c, "listPayouts", (s) => s.listPayouts({ state, limit })) }, 200);
  })
  .openapi(approvePayout, async (c) => {
    const { id } = c.req.valid("param");
    const { walletId, totpCode, recoveryCode } = c.req.valid("json");
    const before = await ledger(c, "getPayout", (s) => s.getPayout(id));
    // Money leaves on this approval: a stolen admin token alone must not be enough.
    await requireSecondFactor(c, "admin.payout_approve", { totpCode, recoveryCode }, id);
    const after = await ledger(c, "approvePayout", (s) => s.approvePayout(id, principalOf(c).userId, walletId));
    await auditAdmin(c, {
      action: "admin.payout_approve",
      outcome: "success",
      targetId: id,
      before: { state: before.state, amount: before.amount, recipient: before.recipient },
      after: { state: after.state, walletId: after.walletId },
    });
    return c.json(after, 200);
  })
  .openapi(rejectPayout, async (c) => {
    const { id } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const before = await ledger(c, "getPayout", (s) => s.getPayout(id));
    const after = await ledger(c, "rejectPayout", (s) => s.rejectPayout(id, principalOf(c).userId, reason));
    await auditAdmin(c, {
      action: "admin.payout_reject",
      outcome: "success",
      targetId: id,
      details: { reason },
      before: { state: before.state },
      after: { state: after.state },
    });
    return c.json(after, 200);
  })
  .openapi(setKyc, async (c) => {
    const { address } = c.req.valid("param");
    const { verified, reason } = c.req.valid("json");
    const before = await ledgerPlain(c, "kycFlag", (s) => s.kycFlag(address));
    const after = await ledger(c, "setKyc", (s) => s.setKyc(address, verified, principalOf(c).userId));
    await auditAdmin(c, {
      action: "admin.kyc_set",
      outcome: "success",
      targetId: address,
      details: { reason },
      before: before ? { verified: before.verified } : null,
      after: { verified: after.verified },
    });
    return c.json(after, 200);
  });

async function setSuspension(c: Context<AppEnv>, nodeId: string, suspended: boolean, reason: string) {
  const actor = principalOf(c).userId;
  const placement = await callDurableObject("NodeDirectoryDO", "locate", () => nodeDirectory(c).locate(nodeId));
  if (!placement) throw new ApiError("not-found", `No node ${nodeId}.`);
  const stub = pool(c, placement.pool);
  const before = await callDurableObject("NodePoolDO", "getNode", () => stub.getNode(nodeId));
  const after = unwrap(
    await callDurableObject("NodePoolDO", "setSuspended", () => stub.setSuspended({ nodeId, suspended, actor, reason })),
  );
  await auditAdmin(c, {
    action: suspended ? "admin.node_suspend" : "admin.node_reinstate",
    outcome: "success",
    targetId: nodeId,
    details: { reason },
    before: before ? { state: before.state } : null,
    after: { state: after.state },
  });
  return c.json(after, 200);
}
