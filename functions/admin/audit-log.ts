import { z } from "@hono/zod-openapi";
import type { AuditEvent } from "../../durable-objects/audit/index.ts";
import { AUDIT_EXPORT_FORMAT, AUDIT_GENESIS_HASH, AUDIT_HASH_VERSION } from "../../shared/audit.ts";
import { callDurableObject } from "../do-call.ts";
import { guarded } from "../middleware/authorize.ts";
import { createApp, jsonResponse, routesTagged } from "../openapi.ts";
import { auditAdmin, auditStub, iso } from "./context.ts";
import { singleton } from "../../platform/objects.ts";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const route = routesTagged("admin");

const AuditEventSchema = z
  .object({
    id: z.number().int(),
    at: z.string().openapi({ format: "date-time" }),
    action: z.string(),
    outcome: z.enum(["success", "failure"]),
    actorId: z.string().nullable(),
    targetId: z.string().nullable(),
    ip: z.string().nullable(),
    requestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    before: z.unknown().openapi({ description: "The target's state before the change (JSON), or null" }),
    after: z.unknown().openapi({ description: "The target's state after the change (JSON), or null" }),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEvent");

function parseState(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function eventJson(event: AuditEvent) {
  return { ...event, at: iso(event.at)!, before: parseState(event.before), after: parseState(event.after) };
}

const plainId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, "must be a plain identifier");

const AuditQuery = z
  .object({
    q: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "Full text (FTS5 prefix terms) over action, actor, target, request id, details, before, after" }),
    action: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[a-z0-9_.]+\*?$/, "must be a dotted action, optionally ending in * or . for a prefix")
      .optional(),
    actorId: plainId.optional(),
    targetId: plainId.optional(),
    requestId: plainId.optional(),
    outcome: z.enum(["success", "failure"]).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    before: z.coerce
      .number()
      .int()
      .min(1)
      .optional()
      .openapi({ description: "Page: only events with a smaller id (nextBefore of the previous page)" }),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

const listAudit = route(
  "GET /audit",
  "Search and page the audit log, newest first (every auth event and admin action)",
  guarded("audit:read"),
  { 200: jsonResponse(z.object({ items: z.array(AuditEventSchema), nextBefore: z.number().int().nullable() }), "Events") },
  [400, 401, 403, 429, 500],
  { request: { query: AuditQuery } },
);

const VerifyReportSchema = z
  .object({
    ok: z.boolean(),
    events: z.number().int().openapi({ description: "Events verified before the first break (all when ok)" }),
    head: z.string().openapi({ description: "Hash of the last verified event" }),
    firstBroken: z
      .object({ id: z.number().int(), reason: z.string(), action: z.string().nullable(), at: z.string().nullable() })
      .nullable()
      .openapi({ description: "The first event whose link or content does not verify" }),
    anchorMismatches: z.array(z.number().int()).openapi({ description: "Anchored heads that no longer match their event" }),
    algorithm: z.string(),
  })
  .openapi("AuditVerifyReport");

const verifyAudit = route(
  "GET /audit/verify",
  "Recompute the audit log's hash chain from the first event; names the first broken event",
  guarded("audit:read"),
  { 200: jsonResponse(VerifyReportSchema, "Verification report") },
);

const exportAudit = route(
  "GET /audit/export",
  "Export events with their hashes and the chain proofs of the anchors covering them (verify offline with shared/audit.ts)",
  guarded("audit:read"),
  {
    200: jsonResponse(
      z
        .object({ format: z.literal(AUDIT_EXPORT_FORMAT) })
        .passthrough()
        .openapi("AuditExport"),
      "Export bundle",
    ),
  },
  [400, 401, 403, 429, 500],
  {
    request: {
      query: z
        .object({
          from: z.coerce.number().int().min(1).default(1),
          to: z.coerce.number().int().min(1).optional(),
          limit: z.coerce.number().int().min(1).max(5000).default(1000),
        })
        .strict()
        .refine((q) => q.to === undefined || q.to >= q.from, { message: "to must not be below from", path: ["to"] }),
    },
  },
);

const AnchorSchema = z.object({
  eventId: z.number().int(),
  head: z.string(),
  txId: z.string(),
  submittedAt: z.string(),
  blockHeight: z.number().int().nullable(),
  blockHash: z.string().nullable(),
  anchoredAt: z.string().nullable(),
});

const anchorStatus = route("GET /audit/anchors", "The audit log's head and its latest anchors on the Lucid chain", guarded("audit:read"), {
  200: jsonResponse(z.object({ events: z.number().int(), head: hex64, anchors: z.array(AnchorSchema) }), "Anchor status"),
});

const anchorNow = route(
  "POST /audit/anchors",
  "Submit the current head to the chain now (the alarm also does this periodically; audited)",
  guarded("admin:manage"),
  { 201: jsonResponse(AnchorSchema.nullable(), "The anchor (null when the log is empty)") },
  [401, 403, 429, 500, 503],
);

type AnchorRow = {
  eventId: number;
  head: string;
  txId: string;
  submittedAt: number;
  blockHeight: number | null;
  blockHash: string | null;
  anchoredAt: number | null;
};
const anchorJson = (a: AnchorRow) => ({ ...a, submittedAt: iso(a.submittedAt)!, anchoredAt: iso(a.anchoredAt) });

export const auditLogApp = createApp()
  .openapi(listAudit, async (c) => {
    const query = c.req.valid("query");
    const page = await callDurableObject("AuditDO", "search", () =>
      auditStub(c.env).search({
        ...query,
        beforeId: query.before,
        from: query.from ? Date.parse(query.from) : undefined,
        to: query.to ? Date.parse(query.to) : undefined,
      }),
    );
    return c.json({ items: page.items.map(eventJson), nextBefore: page.nextBeforeId }, 200);
  })
  .openapi(verifyAudit, async (c) => {
    const report = await callDurableObject("AuditDO", "verify", () => auditStub(c.env).verify());
    const firstBroken = report.firstBroken ? { ...report.firstBroken, at: iso(report.firstBroken.at) } : null;
    return c.json(
      {
        ...report,
        firstBroken,
        algorithm: `sha256 over canonical JSON v${AUDIT_HASH_VERSION}, genesis ${AUDIT_GENESIS_HASH.slice(0, 8)}…`,
      },
      200,
    );
  })
  .openapi(exportAudit, async (c) => {
    const { from, to, limit } = c.req.valid("query");
    const range = await callDurableObject("AuditDO", "exportRange", () => auditStub(c.env).exportRange(from, to, limit));
    const chain = await callDurableObject("ChainDO", "info", () => singleton(c.env, "CHAIN").info());
    const bundle = {
      format: AUDIT_EXPORT_FORMAT,
      hashVersion: AUDIT_HASH_VERSION,
      exportedAt: new Date().toISOString(),
      chain: { name: chain.chain, genesisHash: chain.genesisHash, producer: chain.producer },
      prevHash: range.prevHash,
      head: range.head,
      events: range.events,
      anchors: range.anchors.map((a) => ({
        eventId: a.eventId,
        head: a.head,
        txId: a.txId,
        blockHeight: a.blockHeight,
        evidence: a.evidence,
      })),
    };
    return c.json(bundle, 200, {
      "Content-Disposition": `attachment; filename="lucid-audit-${from}-${range.events.at(-1)?.id ?? from}.json"`,
    });
  })
  .openapi(anchorStatus, async (c) => {
    const status = await callDurableObject("AuditDO", "anchorStatus", () => auditStub(c.env).anchorStatus());
    return c.json({ ...status, anchors: status.anchors.map(anchorJson) }, 200);
  })
  .openapi(anchorNow, async (c) => {
    await auditAdmin(c, { action: "admin.audit_anchor", outcome: "success", targetId: "audit-log" });
    const anchor = await callDurableObject("AuditDO", "anchorNow", () => auditStub(c.env).anchorNow());
    return c.json(anchor ? anchorJson(anchor) : null, 201);
  });
