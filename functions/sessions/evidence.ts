import { createRoute, z } from "@hono/zod-openapi";
import type { AnchorLookup } from "../../durable-objects/chain/index.ts";
import { tronAnchorProof } from "../../shared/chain/tron-anchor.ts";
import { ApiError } from "../../shared/errors.ts";
import { chainStub } from "../chain/index.ts";
import { callDurableObject } from "../do-call.ts";
import { createApp, jsonResponse, problemResponses } from "../openapi.ts";
import { actorOf, callSession, sessionStub } from "./context.ts";
import { SessionIdParam } from "./schemas.ts";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const EvidenceSchema = z
  .object({
    format: z.literal("lucid-evidence"),
    version: z.literal(1),
    session: z.object({ id: z.string(), owner: z.string(), node: z.string() }),
    chunks: z.array(z.object({ index: z.number().int(), sha256: hex64, size: z.number().int() })),
    manifest: z.object({ root: hex64, chunkCount: z.number().int() }),
    parts: z
      .array(z.object({ node: z.string(), firstIndex: z.number().int(), since: z.string().nullable() }))
      .optional()
      .openapi({ description: "which node recorded which chunks (from the manifest; more than one after a migrated desktop)" }),
    anchor: z.object({
      tx: z.record(z.string(), z.unknown()),
      txId: hex64,
      proof: z.object({ txIndex: z.number().int(), txCount: z.number().int(), path: z.array(hex64) }),
      block: z.object({ header: z.record(z.string(), z.unknown()), hash: hex64, signature: z.string() }),
      tron: tronAnchorProof.optional().openapi({ description: "the block's anchor on TRON (shared/chain/tron-anchor.ts)" }),
    }),
    interimAnchors: z
      .array(
        z.object({
          tx: z.record(z.string(), z.unknown()),
          txId: hex64,
          proof: z.record(z.string(), z.unknown()),
          block: z.record(z.string(), z.unknown()),
        }),
      )
      .openapi({ description: "rolling anchors recorded while the session recorded: a shorter bundle than they cover is truncated" }),
  })
  .openapi("EvidenceBundle", { description: "Checked offline by `lucid verify` (shared/verify.ts)" });

const getEvidence = createRoute({
  method: "get",
  path: "/{id}/evidence",
  tags: ["sessions"],
  summary: "Evidence bundle: chunk hashes, Merkle root, the anchor with its block header and inclusion proof",
  request: { params: SessionIdParam },
  responses: {
    200: jsonResponse(EvidenceSchema, "Evidence bundle"),
    ...problemResponses(400, 401, 403, 404, 409, 429, 500),
  },
});

/** GET /api/v1/sessions/{id}/evidence: what `lucid verify` needs, for the session's owner, node or an admin. */
export const evidenceRoutes = createApp().openapi(getEvidence, async (c) => {
  const { id } = c.req.valid("param");
  const actor = actorOf(c);
  const session = await callSession("get", () => sessionStub(c, id).get(actor));
  const manifest = await callSession("manifest", () => sessionStub(c, id).manifest(actor));
  const anchor: AnchorLookup = await callDurableObject("ChainDO", "anchorEvidence", () => chainStub(c.env).anchorEvidence(id));
  if (!anchor || "pending" in anchor) {
    throw new ApiError("conflict", anchor ? "The session's anchor waits for the next block." : "The session is not anchored yet.", {
      state: session.state,
    });
  }
  return c.json(
    {
      format: "lucid-evidence" as const,
      version: 1 as const,
      session: { id, owner: session.ownerId, node: session.nodeId },
      chunks: manifest.chunks.map(({ index, sha256, size }) => ({ index, sha256, size })),
      manifest: { root: manifest.root, chunkCount: manifest.treeSize },
      ...(manifest.parts ? { parts: manifest.parts } : {}),
      anchor,
      interimAnchors: await callDurableObject("ChainDO", "interimAnchors", () => chainStub(c.env).interimAnchors(id)),
    },
    200,
    { "Content-Disposition": `attachment; filename="session-${id}-evidence.json"` },
  );
});
