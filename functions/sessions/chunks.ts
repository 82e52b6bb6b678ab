import { createRoute, z } from "@hono/zod-openapi";
import { CHUNK_HEADERS } from "../../shared/chunk.ts";
import { ApiError } from "../../shared/errors.ts";
import { chunkStoreFor } from "../../platform/chunk-store/index.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { createApp, problemResponses, jsonResponse } from "../openapi.ts";
import { actorOf, callSession, sessionStub } from "./context.ts";
import { BodyLengthMismatch, checkUploadHeaders, storeHashing } from "./ingest.ts";
import { chunkCorrupt, reportDamagedChunk, type DamagedChunk } from "./integrity.ts";
import { INTEGRITY_HEADER, verifiedChunk } from "./verified-read.ts";
import { parseRange } from "./range.ts";
import {
  ChunkParams,
  ChunkReceiptSchema,
  ChunkUploadHeaders,
  ConsistencyProofSchema,
  ConsistencyQuery,
  InclusionProofSchema,
  ManifestSchema,
  ProofQuery,
  SessionIdParam,
} from "./schemas.ts";

const uploadChunk = createRoute({
  method: "put",
  path: "/{id}/chunks/{index}",
  tags: ["sessions"],
  summary: "Upload one encrypted chunk (node credential of the assigned node; see shared/chunk.ts)",
  description:
    "Body: the ciphertext (application/octet-stream, at most CHUNK_MAX_BYTES). The server hashes it while streaming into " +
    "the chunk store; a digest or length mismatch keeps nothing. 201 stored, 200 already stored with the same digest, " +
    "409 a different digest at this index or the session is not recording.",
  request: { params: ChunkParams, headers: ChunkUploadHeaders },
  responses: {
    201: jsonResponse(ChunkReceiptSchema, "Stored"),
    200: jsonResponse(ChunkReceiptSchema, "Already stored (same index and digest)"),
    ...problemResponses(400, 401, 403, 404, 409, 411, 413, 415, 429, 500),
  },
});

const downloadChunk = createRoute({
  method: "get",
  path: "/{id}/chunks/{index}",
  tags: ["sessions"],
  summary: "Download a chunk's ciphertext (owner or admin); supports a single byte Range",
  request: { params: ChunkParams },
  responses: {
    200: { description: "The chunk", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    206: { description: "A byte range", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    ...problemResponses(400, 401, 403, 404, 410, 416, 429, 500),
  },
});

const chunkProof = createRoute({
  method: "get",
  path: "/{id}/chunks/{index}/proof",
  tags: ["sessions"],
  summary: "RFC 9162 inclusion proof of a chunk in the session tree (or in the interim tree of the first treeSize chunks)",
  request: { params: ChunkParams, query: ProofQuery },
  responses: { 200: jsonResponse(InclusionProofSchema, "Proof"), ...problemResponses(400, 401, 403, 404, 409, 429, 500) },
});

const consistencyProof = createRoute({
  method: "get",
  path: "/{id}/consistency",
  tags: ["sessions"],
  summary: "RFC 9162 consistency proof between the interim roots of the first `from` and `to` chunks",
  request: { params: SessionIdParam, query: ConsistencyQuery },
  responses: { 200: jsonResponse(ConsistencyProofSchema, "Proof"), ...problemResponses(400, 401, 403, 404, 409, 429, 500) },
});

const getManifest = createRoute({
  method: "get",
  path: "/{id}/manifest",
  tags: ["sessions"],
  summary: "The session's Merkle manifest (every chunk's hash and metadata, the root, the anchor)",
  request: { params: SessionIdParam },
  responses: { 200: jsonResponse(ManifestSchema, "Manifest"), ...problemResponses(400, 401, 403, 404, 409, 429, 500) },
});

export const chunkRoutes = createApp()
  .openapi(uploadChunk, async (c) => {
    const { id, index } = c.req.valid("param");
    const headers = c.req.valid("header");
    const node = c.get("node");
    if (!node) {
      principalOf(c);
      throw new ApiError("forbidden", "Chunks are uploaded with the assigned node's credential.");
    }
    const actor = { kind: "node" as const, nodeId: node.nodeId };
    const { sha256, length } = checkUploadHeaders(headers, c.get("config").CHUNK_MAX_BYTES);
    const stub = sessionStub(c, id);
    const started = Date.now();
    const begin = await callSession("beginUpload", () => stub.beginUpload(actor, index, sha256));
    if (begin.kind === "stored") {
      await c.req.raw.body?.cancel();
      return c.json(receiptJson(begin.receipt), 200);
    }
    const body = c.req.raw.body ?? new Blob([]).stream();
    const begun = Date.now();
    let received: { sha256: string; size: number };
    try {
      received = await storeHashing(chunkStoreFor(c.env), begin.storeKey, body, length);
    } catch (error) {
      await stub.abortUpload(actor, begin.uploadId, error instanceof BodyLengthMismatch ? error.message : "store write failed");
      if (error instanceof BodyLengthMismatch) {
        throw new ApiError("digest-mismatch", `Nothing was kept: ${error.message}.`, { index });
      }
      throw error;
    }
    if (received.sha256 !== sha256) {
      await stub.abortUpload(actor, begin.uploadId, "digest mismatch");
      throw new ApiError("digest-mismatch", "Nothing was kept: the body's SHA-256 differs from Content-Digest.", {
        index,
        expected: sha256,
        actual: received.sha256,
      });
    }
    const stored = Date.now();
    const commit = await callSession("commitUpload", () =>
      stub.commitUpload(actor, begin.uploadId, {
        sha256,
        size: received.size,
        nonce: headers["lucid-chunk-nonce"],
        plainSize: headers["lucid-plain-size"],
        compressedSize: headers["lucid-compressed-size"],
        captureStart: headers["lucid-capture-start"],
        captureEnd: headers["lucid-capture-end"],
      }),
    );
    // Where the upload's time went (the SessionDO's reserve, the hashed store write, the commit):
    // what bench/ingest.mjs reports per phase. Clock readings advance only across I/O, which
    // each phase is.
    c.header("Server-Timing", `begin;dur=${begun - started}, store;dur=${stored - begun}, commit;dur=${Date.now() - stored}`);
    return commit.created ? c.json(receiptJson(commit.receipt), 201) : c.json(receiptJson(commit.receipt), 200);
  })
  .openapi(downloadChunk, async (c) => {
    const { id, index } = c.req.valid("param");
    const actor = actorOf(c);
    const location = await callSession("chunkLocation", () => sessionStub(c, id).chunkLocation(actor, index));
    // A chunk a read or a scrub found damaged is never served again (until a check finds it intact).
    if (location.damaged) throw chunkCorrupt(index);
    const range = parseRange(c.req.header("Range"), location.size);
    const report = (damage: Omit<DamagedChunk, "sessionId" | "index">) => reportDamagedChunk(c, { sessionId: id, index, ...damage });
    const body = await verifiedChunk(c, index, location, range, report);
    const headers: Record<string, string> = {
      "Content-Type": "application/octet-stream",
      "Accept-Ranges": "bytes",
      ETag: `"${location.sha256}"`,
      "Cache-Control": "private, max-age=31536000, immutable",
      [INTEGRITY_HEADER]: body.integrity,
    };
    if (range) {
      headers["Content-Range"] = `bytes ${range.offset}-${range.offset + range.length - 1}/${location.size}`;
      headers["Content-Length"] = String(range.length);
      return c.body(body.stream, 206, headers);
    }
    headers["Content-Length"] = String(location.size);
    headers[CHUNK_HEADERS.digest] = `sha-256=:${btoa(String.fromCharCode(...hexBytes(location.sha256)))}:`;
    return c.body(body.stream, 200, headers);
  })
  .openapi(chunkProof, async (c) => {
    const { id, index } = c.req.valid("param");
    const { treeSize } = c.req.valid("query");
    const actor = actorOf(c);
    const proof = await callSession("inclusionProof", () => sessionStub(c, id).inclusionProof(actor, index, treeSize));
    return c.json({ sessionId: id, ...proof }, 200);
  })
  .openapi(consistencyProof, async (c) => {
    const { id } = c.req.valid("param");
    const { from, to } = c.req.valid("query");
    const actor = actorOf(c);
    const proof = await callSession("consistencyProof", () => sessionStub(c, id).consistencyProof(actor, from, to));
    return c.json({ sessionId: id, ...proof }, 200);
  })
  .openapi(getManifest, async (c) => {
    const { id } = c.req.valid("param");
    const actor = actorOf(c);
    const manifest = await callSession("manifest", () => sessionStub(c, id).manifest(actor));
    return c.json(manifest, 200, { "Content-Disposition": `attachment; filename="session-${id}-manifest.json"` });
  });

function receiptJson(receipt: { sessionId: string; index: number; sha256: string; size: number; receivedAt: number }) {
  return { ...receipt, receivedAt: new Date(receipt.receivedAt).toISOString() };
}

function hexBytes(hex: string): number[] {
  return hex.match(/../g)!.map((b) => parseInt(b, 16));
}
