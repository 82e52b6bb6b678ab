/**
 * The chunk upload contract shared by the Pi agent (producer) and the sessions function
 * (consumer). Version 1.
 *
 * A chunk is ~CHUNK_SIZE_BYTES of recording stream, compressed with zstd, then sealed with
 * XChaCha20-Poly1305 under the session's data key:
 *   nonce      24 random bytes
 *   AAD        utf8(sessionId) ‖ uint32be(index)         (binds the chunk to its place)
 *   ciphertext = xchacha20poly1305(key, nonce, AAD).encrypt(zstd(plain))   (tag appended)
 * The Merkle leaf is SHA-256 of the ciphertext, so stored blobs can be checked without the key.
 *
 * Upload: PUT /api/v1/sessions/:sessionId/chunks/:index  (index from 0, contiguous)
 *   Authorization: Bearer <node credential>
 *   Content-Type: application/octet-stream
 *   Content-Length: <ciphertext bytes>
 *   Content-Digest: sha-256=:<base64 SHA-256 of the body>:      (RFC 9530)
 *   Lucid-Chunk-Nonce: <48 lowercase hex>
 *   Lucid-Plain-Size: <bytes before compression>
 *   Lucid-Compressed-Size: <bytes after zstd, before encryption>
 *   Lucid-Capture-Start: <epoch ms of the first frame>
 *   Lucid-Capture-End: <epoch ms of the last frame>
 * Answers 201 (stored) or 200 (same index and digest already stored) with ChunkReceipt;
 * 409 for a different digest at an existing index; 400/413/415 problems for bad uploads.
 */
export const CHUNK_FORMAT_VERSION = 1;
export const CHUNK_NONCE_BYTES = 24;
export const CHUNK_KEY_BYTES = 32;
export const CHUNK_TAG_BYTES = 16;

export const CHUNK_HEADERS = {
  digest: "Content-Digest",
  nonce: "Lucid-Chunk-Nonce",
  plainSize: "Lucid-Plain-Size",
  compressedSize: "Lucid-Compressed-Size",
  captureStart: "Lucid-Capture-Start",
  captureEnd: "Lucid-Capture-End",
} as const;

export interface ChunkReceipt {
  sessionId: string;
  index: number;
  /** Lowercase hex SHA-256 of the ciphertext (the Merkle leaf's input). */
  sha256: string;
  size: number;
  receivedAt: string;
}

/** AAD = utf8(sessionId) ‖ uint32be(index). */
export function chunkAad(sessionId: string, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new RangeError("chunk index out of range");
  const id = new TextEncoder().encode(sessionId);
  const aad = new Uint8Array(id.length + 4);
  aad.set(id, 0);
  new DataView(aad.buffer).setUint32(id.length, index, false);
  return aad;
}

const DIGEST = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]{43}=):\s*(?:,|$)/;

/** Reads the SHA-256 from an RFC 9530 Content-Digest header as lowercase hex, or null. */
export function parseContentDigest(header: string | null | undefined): string | null {
  const match = header ? DIGEST.exec(header) : null;
  if (!match) return null;
  const bytes = Uint8Array.from(atob(match[1]!), (ch) => ch.charCodeAt(0));
  if (bytes.length !== 32) return null;
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Formats a 32-byte SHA-256 as an RFC 9530 Content-Digest header value. */
export function formatContentDigest(sha256: Uint8Array): string {
  if (sha256.length !== 32) throw new RangeError("SHA-256 digests are 32 bytes");
  return `sha-256=:${btoa(String.fromCharCode(...sha256))}:`;
}
