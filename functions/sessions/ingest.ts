import { CHUNK_TAG_BYTES, parseContentDigest } from "../../shared/chunk.ts";
import { ApiError } from "../../shared/errors.ts";
import { toHex } from "../../shared/merkle/index.ts";
import type { ChunkStore } from "../../platform/chunk-store/index.ts";

/** PUT /api/v1/sessions/:id/chunks/:index streams up to CHUNK_MAX_BYTES; the gateway's JSON body limit skips it. */
const CHUNK_UPLOAD_PATH = /^\/api\/v1\/sessions\/[^/]+\/chunks\/[^/]+$/;
export function isChunkUpload(method: string, path: string): boolean {
  return method === "PUT" && CHUNK_UPLOAD_PATH.test(path);
}

/** Largest piece handed to the store and the digest at once. */
const BLOCK_BYTES = 1024 * 1024;

export class BodyLengthMismatch extends Error {
  override name = "BodyLengthMismatch";
}

/**
 * Streams `body` into the store while hashing it with the runtime's native SHA-256
 * (crypto.DigestStream) and counting bytes, one piece at a time: each piece is written to the
 * digest and to a native FixedLengthStream the store reads from, so at most a few pieces are in
 * memory and the store's side stays a native stream (a JS TransformStream there cost ~5-10x in
 * throughput; pipeTo into the digest was slower than writing to it directly).
 */
export async function storeHashing(
  store: ChunkStore,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
): Promise<{ sha256: string; size: number }> {
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  const pipe = new FixedLengthStream(length);
  const writer = pipe.writable.getWriter();
  const stored = store.put(key, pipe.readable, length);
  // A BYOB reader fills whole blocks straight from the request body (workerd's readAtLeast), so
  // the store and the digest get a few large pieces instead of many small ones: each piece
  // handed over costs a round trip. Two blocks are the only buffering per upload.
  const reader = body.getReader({ mode: "byob" });
  let size = 0;
  // Double buffering: the next block is read from the network while the previous one is written.
  let writing: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      const want = Math.min(BLOCK_BYTES, length - size + 1);
      const { done, value } = await reader.readAtLeast(want, new Uint8Array(want));
      if (value && value.byteLength > 0) {
        size += value.byteLength;
        if (size > length) throw new BodyLengthMismatch(`the body is longer than Content-Length (${length})`);
        await writing;
        writing = Promise.all([digestWriter.write(value), writer.write(value)]);
        writing.catch(() => {}); // awaited on the next turn; this only keeps it from counting as unhandled
      }
      if (done || !value || value.byteLength < want) break;
    }
    await writing;
    if (size !== length) throw new BodyLengthMismatch(`the body has ${size} bytes, Content-Length says ${length}`);
    await writer.close();
    await digestWriter.close();
  } catch (error) {
    await Promise.allSettled([writer.abort(error), digestWriter.abort(error), reader.cancel(error), stored]);
    throw error;
  }
  await stored;
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
