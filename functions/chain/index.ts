import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AnchorLookup, StoredBlock, SubmitResult, TransactionLookup } from "../../durable-objects/chain/index.ts";
import { chainTx } from "../../shared/chain/transactions.ts";
import { tronAnchorProof } from "../../shared/chain/tron-anchor.ts";
import { ApiError } from "../../shared/errors.ts";
import { callDurableObject } from "../do-call.ts";
import { guarded } from "../middleware/authorize.ts";
import { chainIntegrityRoutes } from "./integrity.ts";
import { createApp, jsonBody, jsonResponse, problemResponses } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { singleton } from "../../platform/objects.ts";

/** The chain lives in one Durable Object per deployment; peers are other deployments. */
export function chainStub(env: AppEnv["Bindings"]) {
  return singleton(env, "CHAIN");
}

function call<T>(c: Context<AppEnv>, method: string, fn: (stub: ReturnType<typeof chainStub>) => Promise<T>): Promise<T> {
  return callDurableObject("ChainDO", method, () => fn(chainStub(c.env)));
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const Header = z
  .object({
    version: z.number().int(),
    chain: z.string(),
    height: z.number().int(),
    previousHash: hex32,
    timestamp: z.number().int().openapi({ description: "ms since the Unix epoch" }),
    epoch: z.number().int(),
    slot: z.number().int(),
    producer: z.string().openapi({ description: "Ed25519 public key (hex) of the slot leader" }),
    txRoot: hex32,
    txCount: z.number().int(),
  })
  .openapi("BlockHeader");
const SignedHeader = z.object({ header: Header, hash: hex32, signature: z.string() }).openapi("SignedBlockHeader");
const Block = SignedHeader.extend({ txIds: z.array(hex32) }).openapi("Block");
const Tx = z.record(z.string(), z.unknown()).openapi("ChainTransaction", { description: "see shared/chain/transactions.ts" });

const stats = createRoute({
  method: "get",
  path: "/stats",
  tags: ["chain"],
  summary: "Chain height, head, counts and the producer's key",
  responses: {
    200: jsonResponse(
      z.object({
        chain: z.string(),
        genesisHash: hex32.openapi({
          description: "the chain's trust root: pin it with `lucid verify --genesis` (it commits to the producer set)",
        }),
        height: z.number().int(),
        headHash: hex32,
        headTime: z.number().int(),
        transactions: z.number().int(),
        anchors: z.number().int(),
        mempool: z.number().int(),
        weight: z.number().int().openapi({ description: "the chain's cumulative PoOT weight (fork choice)" }),
        producer: z.string(),
        producers: z.array(z.string()),
        slotSeconds: z.number(),
        epochSlots: z.number().int(),
      }),
      "Chain statistics",
    ),
    ...problemResponses(429, 500),
  },
});

const latest = createRoute({
  method: "get",
  path: "/blocks/latest",
  tags: ["chain"],
  summary: "The head block",
  responses: { 200: jsonResponse(Block, "Head block"), ...problemResponses(429, 500) },
});

const blockById = createRoute({
  method: "get",
  path: "/blocks/{id}",
  tags: ["chain"],
  summary: "A block by height or hash",
  request: {
    params: z.object({
      id: z.string().regex(/^(\d{1,15}|[0-9a-f]{64})$/, "must be a block height or a 64-hex block hash"),
    }),
  },
  responses: { 200: jsonResponse(Block, "Block"), ...problemResponses(400, 404, 429, 500) },
});

const blockRange = createRoute({
  method: "get",
  path: "/blocks",
  tags: ["chain"],
  summary: "Headers from a height upwards",
  request: {
    query: z.object({
      from: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
  },
  responses: { 200: jsonResponse(z.object({ blocks: z.array(SignedHeader) }), "Headers"), ...problemResponses(400, 429, 500) },
});

const syncBlocks = createRoute({
  method: "get",
  path: "/sync/blocks",
  tags: ["chain"],
  summary: "Full blocks (headers and transactions) from a height upwards, for peers",
  request: {
    query: z.object({
      from: z.coerce.number().int().min(1).default(1),
      limit: z.coerce.number().int().min(1).max(100).default(50),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ blocks: z.array(SignedHeader.extend({ txs: z.array(Tx) })) }), "Blocks"),
    ...problemResponses(400, 429, 500),
  },
});

const transaction = createRoute({
  method: "get",
  path: "/transactions/{id}",
  tags: ["chain"],
  summary: "A transaction by id, included or pending",
  request: { params: z.object({ id: hex32 }) },
  responses: {
    200: jsonResponse(
      z.object({
        tx: Tx,
        status: z.enum(["included", "pending"]),
        height: z.number().int().optional(),
        txIndex: z.number().int().optional(),
      }),
      "Transaction",
    ),
    ...problemResponses(400, 404, 429, 500),
  },
});

const submit = createRoute({
  method: "post",
  path: "/transactions",
  tags: ["chain"],
  summary: "Queue transactions for the next block (ADMIN; functions submit directly)",
  ...guarded("chain:manage"),
  request: {
    body: jsonBody(z.object({ transactions: z.array(chainTx).min(1).max(1000) })),
  },
  responses: {
    202: jsonResponse(z.object({ accepted: z.array(hex32), alreadyKnown: z.array(hex32) }), "Queued"),
    ...problemResponses(400, 401, 403, 409, 413, 415, 429, 500),
  },
});

const SessionIdParam = z.object({
  sessionId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/),
});
const InclusionProof = z.object({ txIndex: z.number().int(), txCount: z.number().int(), path: z.array(hex32) }).openapi("TxInclusionProof");

const anchor = createRoute({
  method: "get",
  path: "/anchors/{sessionId}",
  tags: ["chain"],
  summary: "A session's anchor with its block header and inclusion proof (verifiable offline)",
  request: { params: SessionIdParam },
  responses: {
    200: jsonResponse(
      z.object({
        tx: Tx,
        txId: hex32,
        proof: InclusionProof,
        block: SignedHeader,
        tron: tronAnchorProof.optional().openapi({ description: "the block's anchor on TRON (shared/chain/tron-anchor.ts)" }),
      }),
      "Anchor evidence",
    ),
    ...problemResponses(400, 404, 429, 500),
  },
});

const interimAnchors = createRoute({
  method: "get",
  path: "/anchors/{sessionId}/interim",
  tags: ["chain"],
  summary: "A session's interim (rolling) anchors, each with its block header and inclusion proof (shared/verify verifyInterimAnchor)",
  request: {
    params: SessionIdParam,
    query: z.object({
      offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        sessionId: z.string(),
        total: z.number().int().openapi({ description: "interim anchors of the session on chain" }),
        offset: z.number().int(),
        limit: z.number().int(),
        next: z.number().int().nullable().openapi({ description: "the offset of the next page, null on the last" }),
        anchors: z.array(z.object({ tx: Tx, txId: hex32, proof: InclusionProof, block: SignedHeader })),
      }),
      "Interim anchors, in chain order (growing prefixes of the recording)",
    ),
    ...problemResponses(400, 404, 429, 500),
  },
});

export const chainApp = createApp()
  .openapi(stats, async (c) => c.json(await call(c, "stats", (s) => s.stats()), 200))
  .openapi(latest, async (c) => {
    const head = await call(c, "head", (s) => s.head());
    const block = await call(c, "blockByHeight", (s) => s.blockByHeight(head.header.height));
    return c.json(block!, 200);
  })
  .openapi(blockById, async (c) => {
    const { id } = c.req.valid("param");
    const block = await call<StoredBlock | null>(c, "block", (s) => (id.length === 64 ? s.blockByHash(id) : s.blockByHeight(Number(id))));
    if (!block) throw new ApiError("not-found", `No block ${id}.`);
    return c.json(block, 200);
  })
  .openapi(blockRange, async (c) => {
    const { from, limit } = c.req.valid("query");
    return c.json({ blocks: await call(c, "range", (s) => s.range(from, limit)) }, 200);
  })
  .openapi(syncBlocks, async (c) => {
    const { from, limit } = c.req.valid("query");
    return c.json({ blocks: await call(c, "blocksWithTxs", (s) => s.blocksWithTxs(from, limit)) }, 200);
  })
  .openapi(transaction, async (c) => {
    const { id } = c.req.valid("param");
    const found = await call<TransactionLookup>(c, "transaction", (s) => s.transaction(id));
    if (!found) throw new ApiError("not-found", `No transaction ${id}.`);
    if ("pending" in found) return c.json({ tx: found.tx, status: "pending" as const }, 200);
    return c.json({ tx: found.tx, status: "included" as const, height: found.height, txIndex: found.txIndex }, 200);
  })
  .openapi(submit, async (c) => {
    const result = await call<SubmitResult>(c, "submit", (s) => s.submit(c.req.valid("json").transactions));
    if (!result.ok) {
      throw new ApiError(result.reason === "duplicate-anchor" ? "conflict" : "validation-failed", result.message, {
        index: result.index,
      });
    }
    return c.json({ accepted: result.accepted, alreadyKnown: result.alreadyKnown }, 202);
  })
  .openapi(anchor, async (c) => {
    const { sessionId } = c.req.valid("param");
    const evidence = await call<AnchorLookup>(c, "anchorEvidence", (s) => s.anchorEvidence(sessionId));
    if (!evidence) throw new ApiError("not-found", `Session ${sessionId} has no anchor.`);
    if ("pending" in evidence)
      throw new ApiError("not-found", `The anchor of session ${sessionId} waits for the next block.`, { pending: true });
    return c.json(evidence, 200);
  })
  .openapi(interimAnchors, async (c) => {
    const { sessionId } = c.req.valid("param");
    const { offset, limit } = c.req.valid("query");
    const page = await call(c, "interimAnchorPage", (s) => s.interimAnchorPage(sessionId, offset, limit));
    if (!page) throw new ApiError("not-found", `Session ${sessionId} has no anchor.`);
    const next = offset + page.anchors.length < page.total ? offset + page.anchors.length : null;
    return c.json({ sessionId, total: page.total, offset, limit, next, anchors: page.anchors }, 200);
  })
  .route("/", chainIntegrityRoutes);
