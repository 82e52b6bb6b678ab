import { z } from "@hono/zod-openapi";
import { INTERACTION_POLICIES } from "../../shared/recording/events.ts";
import { SESSION_STATES } from "../../shared/session.ts";
import { TERMS_LIMITS } from "../../shared/recording/terms.ts";

const iso = () => z.string().openapi({ format: "date-time" });
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const SessionIdParam = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a session id (lowercase UUID)")
    .openapi({ param: { name: "id", in: "path" }, example: "0f8b6f3e-2c1d-4b8a-9e2f-6a7b8c9d0e1f" }),
});

/** Chunk indices are uint32, written in decimal without leading zeros. */
export const chunkIndex = z
  .string()
  .regex(/^(0|[1-9]\d{0,9})$/, "must be a chunk index (a whole number from 0)")
  .transform(Number)
  .pipe(z.number().int().max(0xffffffff));

export const ChunkParams = SessionIdParam.extend({
  index: chunkIndex.openapi({ param: { name: "index", in: "path" }, type: "integer", example: 0 }),
});

const ident = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, "must be an id of letters, digits and ._:@-");

export const RdpParameters = z
  .object({
    width: z.number().int().min(320).max(7680).default(1920),
    height: z.number().int().min(200).max(4320).default(1080),
    colorDepth: z.union([z.literal(15), z.literal(16), z.literal(24), z.literal(32)]).default(32),
    frameRate: z.number().int().min(1).max(60).default(10),
    audio: z.boolean().default(false),
    clipboard: z.boolean().default(false),
  })
  .strict()
  .openapi("RdpParameters");

/** The interaction policy (shared/recording/events.ts), fixed at creation. */
function InteractionSchema() {
  return z.enum(INTERACTION_POLICIES).openapi({
    description:
      "What the recorder records of input beside the pixels, fixed at creation: `none`; `metadata` (default: focused window titles and " +
      "classes, pointer clicks, key counts, clipboard sizes); `full` (also typed text and clipboard text, passwords included).",
    example: "metadata",
  });
}

export const CreateSessionBody = z
  .object({
    nodeId: ident,
    title: z.string().trim().min(1).max(200),
    tags: z.array(z.string().trim().min(1).max(40)).max(20).default([]),
    notes: z.string().max(4000).default(""),
    rdp: RdpParameters.default(RdpParameters.parse({})),
    interaction: InteractionSchema().default("metadata"),
    /** Admins may create a session on behalf of another user. */
    ownerId: ident.optional(),
  })
  .strict()
  .openapi("CreateSession");

export const StopBody = z
  .object({ chunkCount: z.number().int().min(0).max(0xffffffff).optional() })
  .strict()
  .openapi("StopSession");

export const AnchorSchema = z
  .object({
    chain: z.string(),
    blockHeight: z.number().int(),
    blockHash: z.string(),
    txId: z.string(),
    anchoredAt: z.string(),
  })
  .openapi("Anchor");

export const IntegrityCheckSchema = z
  .object({
    at: iso(),
    source: z
      .enum(["read", "scrub", "request"])
      .openapi({ description: "a download that found damage, the scheduled scrub, or an admin's check" }),
    ok: z.boolean(),
    checked: z.number().int(),
    badChunks: z.array(z.object({ index: z.number().int(), reason: z.enum(["size", "length", "digest", "missing"]) })),
  })
  .openapi("IntegrityCheck");

export const LegalHoldSchema = z.object({ reason: z.string(), by: z.string(), since: iso() }).openapi("LegalHold", {
  description: "While set, retention skips the session and deleting it (crypto-shredding) is refused with 409 legal-hold.",
});

export const SessionSchema = z
  .object({
    id: z.string(),
    ownerId: z.string(),
    nodeId: z.string(),
    title: z.string(),
    tags: z.array(z.string()),
    notes: z.string(),
    rdp: z.record(z.string(), z.unknown()),
    interaction: InteractionSchema(),
    state: z.enum(SESSION_STATES),
    version: z.number().int(),
    createdAt: iso(),
    updatedAt: iso(),
    startedAt: iso().nullable(),
    stoppedAt: iso().nullable(),
    completedAt: iso().nullable(),
    expiresAt: iso(),
    chunks: z.object({ count: z.number().int(), contiguous: z.number().int(), bytes: z.number().int() }),
    treeSize: z.number().int().nullable(),
    merkleRoot: z.string().nullable(),
    anchor: AnchorSchema.nullable(),
    keyShredded: z.boolean(),
    deleted: z.boolean(),
    failure: z.string().nullable(),
    lastIntegrityCheck: IntegrityCheckSchema.nullable(),
    legalHold: LegalHoldSchema.nullable(),
  })
  .openapi("Session");

export const SessionSummarySchema = z
  .object({
    id: z.string(),
    ownerId: z.string(),
    nodeId: z.string(),
    title: z.string(),
    tags: z.array(z.string()),
    notes: z.string(),
    interaction: InteractionSchema(),
    state: z.enum(SESSION_STATES),
    createdAt: iso(),
    updatedAt: iso(),
  })
  .openapi("SessionSummary");

export const SessionPageSchema = z
  .object({ items: z.array(SessionSummarySchema), nextCursor: z.string().nullable() })
  .openapi("SessionPage");

/** `?limit=` of lists and searches: 1–100, sent as text. */
const PageLimit = z
  .string()
  .regex(/^\d+$/)
  .transform(Number)
  .pipe(z.number().int().min(1).max(100))
  .optional()
  .openapi({ type: "integer", example: 20 });

export const ListQuery = z
  .object({
    state: z.enum(SESSION_STATES).optional(),
    ownerId: ident.optional(),
    nodeId: ident.optional(),
    createdFrom: z.iso.datetime({ offset: true }).optional(),
    createdTo: z.iso.datetime({ offset: true }).optional(),
    cursor: z.string().max(512).optional(),
    limit: PageLimit,
  })
  .strict();

export const SearchQuery = z
  .object({
    q: z.string().trim().min(1).max(200),
    limit: PageLimit,
  })
  .strict();

export const SearchResultSchema = z
  .object({
    items: z.array(
      SessionSummarySchema.extend({
        rank: z.number().openapi({ description: "bm25 of the metadata match (lower is better); 0 for a match in the recording only" }),
        snippet: z.string(),
        matches: z
          .array(
            z.object({
              field: z.enum(["metadata", "window-title", "typed-text"]),
              chunkIndex: z.number().int().nullable().openapi({ description: "the first chunk whose terms hold every query word" }),
            }),
          )
          .openapi({ description: "where the query matched: metadata (FTS), a recorded window title, typed text (policy full)" }),
      }),
    ),
  })
  .openapi("SessionSearchResult");

export const EventSchema = z
  .object({
    seq: z.number().int(),
    at: iso(),
    kind: z.string(),
    fromState: z.string().nullable(),
    toState: z.string().nullable(),
    actor: z.string(),
    detail: z.unknown().nullable(),
  })
  .openapi("SessionEvent");

export const DataKeySchema = z
  .object({ sessionId: z.string(), key: z.string().openapi({ description: "base64 of 32 bytes" }), algorithm: z.string() })
  .openapi("SessionDataKey");

export const ChunkReceiptSchema = z
  .object({ sessionId: z.string(), index: z.number().int(), sha256: hex64, size: z.number().int(), receivedAt: iso() })
  .openapi("ChunkReceipt");

export const ChunkUploadHeaders = z.object({
  "content-type": z.string().openapi({ example: "application/octet-stream" }),
  "content-length": z.string().regex(/^\d+$/, "must be the body length in bytes").optional(),
  "content-digest": z.string().min(1).max(200),
  "lucid-chunk-nonce": z.string().regex(/^[0-9a-f]{48}$/, "must be 48 lowercase hex characters (24 bytes)"),
  "lucid-plain-size": z
    .string()
    .regex(/^\d{1,12}$/, "must be a byte count")
    .transform(Number),
  "lucid-compressed-size": z
    .string()
    .regex(/^\d{1,12}$/, "must be a byte count")
    .transform(Number),
  "lucid-capture-start": z
    .string()
    .regex(/^\d{1,15}$/, "must be epoch milliseconds")
    .transform(Number),
  "lucid-capture-end": z
    .string()
    .regex(/^\d{1,15}$/, "must be epoch milliseconds")
    .transform(Number),
});

export const InclusionProofSchema = z
  .object({
    sessionId: z.string(),
    index: z.number().int(),
    treeSize: z.number().int(),
    sha256: hex64,
    leafHash: hex64,
    root: hex64,
    path: z.array(hex64),
  })
  .openapi("InclusionProof");

export const ConsistencyProofSchema = z
  .object({
    sessionId: z.string(),
    from: z.number().int(),
    to: z.number().int(),
    fromRoot: hex64,
    toRoot: hex64,
    proof: z.array(hex64),
  })
  .openapi("ConsistencyProof");

const count = z
  .string()
  .regex(/^\d{1,10}$/)
  .transform(Number)
  .openapi({ type: "integer" });
export const ProofQuery = z.object({ treeSize: count.optional() }).strict();
export const ConsistencyQuery = z.object({ from: count, to: count.optional() }).strict();

export const ManifestSchema = z
  .object({
    version: z.number().int(),
    sessionId: z.string(),
    tree: z.string(),
    treeSize: z.number().int(),
    root: hex64,
    chunks: z.array(
      z.object({
        index: z.number().int(),
        sha256: hex64,
        size: z.number().int(),
        nonce: z.string(),
        plainSize: z.number().int(),
        compressedSize: z.number().int(),
        captureStart: z.number().int(),
        captureEnd: z.number().int(),
      }),
    ),
    createdAt: z.string(),
    anchor: AnchorSchema.nullable(),
  })
  .openapi("SessionManifest");

/** A chunk's search terms (PUT /sessions/{id}/chunks/{index}/terms), from the session's node. */
export const ChunkTermsBody = z
  .object({
    titles: z
      .array(z.string().max(TERMS_LIMITS.titleChars))
      .max(TERMS_LIMITS.titles)
      .default([])
      .openapi({ description: "window titles seen in the chunk (metadata or full)" }),
    words: z
      .array(z.string().min(TERMS_LIMITS.wordMin).max(TERMS_LIMITS.wordMax))
      .max(TERMS_LIMITS.words)
      .default([])
      .openapi({ description: "words typed in the chunk (full only)" }),
  })
  .strict()
  .openapi("ChunkTerms");
