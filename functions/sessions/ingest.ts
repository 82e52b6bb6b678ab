import { CHUNK_TAG_BYTES, parseContentDigest } from "../../shared/chunk.ts";
import { ApiError } from "../../shared/errors.ts";
import { toHex } from "../../shared/merkle/index.ts";
import type { ChunkStore } from "../chunk-store/index.ts";

/** PUT /api/v1/sessions/:id/chunks/:index streams up to CHUNK_MAX_BYTES; the gateway's JSON body limit skips it. */
const CHUNK_UPLOAD_PATH = /^\/api\/v1\/sessions\/[^/]+\/chunks\/[^/]+$/;
export function isChunkUpload(method: string, path: string): boolean {
  return method === "PUT" && CHUNK_UPLOAD_PATH.test(path);
}

export class BodyLengthMismatch extends Error {
  override name = "BodyLengthMismatch";
}

/**
 * Streams `body` into the store while hashing it with the runtime's native SHA-256
 * (crypto.DigestStream) and counting bytes: one pass, no buffering beyond the stream's own
 * chunks. Returns the digest and size actually received.
 */
export async function storeHashing(
  store: ChunkStore,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
): Promise<{ sha256: string; size: number }> {
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  let size = 0;
  const hashing = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > length) throw new BodyLengthMismatch(`the body is longer than Content-Length (${length})`);
      await digestWriter.write(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      if (size !== length) throw new BodyLengthMismatch(`the body has ${size} bytes, Content-Length says ${length}`);
      await digestWriter.close();
    },
  });
  try {
    await store.put(key, body.pipeThrough(hashing), length);
  } catch (error) {
    await digestWriter.abort(error).catch(() => {});
    if (size !== length) throw new BodyLengthMismatch(`the body has ${size} bytes, Content-Length says ${length}`);
    throw error;
  }
  return { sha256: toHex(new Uint8Array(await digest.digest)), size };
}

export interface UploadHeaders {
  "content-type": string;
  "content-length"?: string | undefined;
  "content-digest": string;
  "lucid-capture-start": number;
  "lucid-capture-end": number;
}

/** Checks what can be checked before reading a byte: type, declared length, digest header, times. */
export function checkUploadHeaders(headers: UploadHeaders, maxBytes: number): { sha256: string; length: number } {
  if (headers["content-type"].split(";")[0]!.trim().toLowerCase() !== "application/octet-stream") {
    throw new ApiError("unsupported-media-type", "Chunks are uploaded as application/octet-stream.");
  }
  if (headers["content-length"] === undefined) {
    throw new ApiError("length-required", "Chunk uploads need a Content-Length header.");
  }
  const length = Number(headers["content-length"]);
  if (length > maxBytes) {
    throw new ApiError("payload-too-large", `A chunk may have at most ${maxBytes} bytes.`, { limit: maxBytes });
  }
  if (length < CHUNK_TAG_BYTES) {
    throw invalidHeader("content-length", `must be at least ${CHUNK_TAG_BYTES} (an encrypted chunk carries a 16-byte tag)`);
  }
  const sha256 = parseContentDigest(headers["content-digest"]);
  if (!sha256) throw invalidHeader("content-digest", "must be sha-256=:<base64 of 32 bytes>: (RFC 9530)");
  if (headers["lucid-capture-end"] < headers["lucid-capture-start"]) {
    throw invalidHeader("lucid-capture-end", "must not be before Lucid-Capture-Start");
  }
  return { sha256, length };
}

function invalidHeader(name: string, message: string): ApiError {
  return new ApiError("validation-failed", "The request header is invalid.", {
    errors: [{ location: "header", path: name, message }],
  });
}
