/**
 * Seals one chunk per shared/chunk.ts: zstd, then XChaCha20-Poly1305 with AAD = sessionId ‖ index,
 * then SHA-256 of the ciphertext. XChaCha20 = HChaCha20 subkey (noble's `hchacha`) + node's native
 * IETF ChaCha20-Poly1305 with nonce 0x00000000 ‖ nonce[16..24]: byte-identical to noble's
 * `xchacha20poly1305`, ~13x faster.
 */
import { hchacha } from "@noble/ciphers/chacha.js";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { CHUNK_KEY_BYTES, CHUNK_NONCE_BYTES, CHUNK_TAG_BYTES, chunkAad } from "../../shared/chunk.ts";

// "expand 32-byte k" as little-endian words.
const SIGMA = Uint32Array.of(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574);
const PIECE = 1 << 20; // cipher/hash in 1 MiB pieces: keeps working sets in cache

export interface SealedChunk {
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  sha256: Uint8Array;
  plainSize: number;
  compressedSize: number;
}

function words(bytes: Uint8Array): Uint32Array {
  const out = new Uint32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/** The HChaCha20 subkey and the 12-byte IETF nonce that XChaCha20 reduces to. */
function xchachaParts(key: Uint8Array, nonce: Uint8Array): { subkey: Buffer; ietfNonce: Buffer } {
  if (key.length !== CHUNK_KEY_BYTES) throw new RangeError(`key must be ${CHUNK_KEY_BYTES} bytes`);
  if (nonce.length !== CHUNK_NONCE_BYTES) throw new RangeError(`nonce must be ${CHUNK_NONCE_BYTES} bytes`);
  const out = new Uint32Array(8);
  hchacha(SIGMA, words(key), words(nonce.subarray(0, 16)), out);
  const subkey = Buffer.alloc(32);
  out.forEach((w, i) => subkey.writeUInt32LE(w, i * 4));
  const ietfNonce = Buffer.alloc(12);
  ietfNonce.set(nonce.subarray(16, 24), 4);
  return { subkey, ietfNonce };
}

/** XChaCha20-Poly1305 encryption, ciphertext ‖ tag, hashing the output as it is produced. */
export function xchachaEncrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array) {
  const { subkey, ietfNonce } = xchachaParts(key, nonce);
  const cipher = createCipheriv("chacha20-poly1305", subkey, ietfNonce, { authTagLength: CHUNK_TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plain.length });
  const out = new Uint8Array(plain.length + CHUNK_TAG_BYTES);
  const hash = createHash("sha256");
  let o = 0;
  for (let i = 0; i < plain.length; i += PIECE) {
    const piece = cipher.update(plain.subarray(i, i + PIECE));
    out.set(piece, o);
    hash.update(piece);
    o += piece.length;
  }
  const tail = Buffer.concat([cipher.final(), cipher.getAuthTag()]);
  out.set(tail, o);
  hash.update(tail);
  return { ciphertext: out, sha256: new Uint8Array(hash.digest()) };
}

export function xchachaDecrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (sealed.length < CHUNK_TAG_BYTES) throw new RangeError("ciphertext is shorter than its tag");
  const { subkey, ietfNonce } = xchachaParts(key, nonce);
  const body = sealed.subarray(0, sealed.length - CHUNK_TAG_BYTES);
  const decipher = createDecipheriv("chacha20-poly1305", subkey, ietfNonce, { authTagLength: CHUNK_TAG_BYTES });
  decipher.setAAD(aad, { plaintextLength: body.length });
  decipher.setAuthTag(sealed.subarray(sealed.length - CHUNK_TAG_BYTES));
  const plain = Buffer.concat([decipher.update(body), decipher.final()]);
  return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
}

export interface SealInput {
  /** the plain stream, or with `plainSize` its zstd frame (the recorder compresses as it records) */
  plain: Uint8Array;
  /** set when `plain` is already compressed: the plain stream's size */
  plainSize?: number;
  sessionId: string;
  index: number;
  key: Uint8Array;
  zstdLevel: number;
  /** fixed nonce for tests; random otherwise */
  nonce?: Uint8Array;
}

/**
 * The zstd parameters of every chunk (the checksum lets a reader tell a damaged frame at once).
 * Long-distance matching over a 16 MB window finds content shown again within a chunk (a window
 * reopened, a page turned back) that level 3's own 2 MB window has long passed: 22.1 → 18.9 MB/h
 * on the bench's office desktop for ~60 ms of CPU a minute. Readers need a 16 MB window (zstd's
 * default limit is 128 MB).
 */
/**
 * The recorder's zstd level. 5 rather than 3: on the office desktop (bench/agent-recording-size)
 * 9 % fewer sealed bytes for ~20 ms more compression CPU per minute of recording.
 */
export const DEFAULT_ZSTD_LEVEL = 5;

export function zstdParams(level: number) {
  return {
    [constants.ZSTD_c_compressionLevel]: level,
    [constants.ZSTD_c_checksumFlag]: 1,
    [constants.ZSTD_c_enableLongDistanceMatching]: 1,
    [constants.ZSTD_c_windowLog]: 24,
  };
}

export function sealChunk(input: SealInput): SealedChunk {
  const compressed = input.plainSize === undefined ? zstdCompressSync(input.plain, { params: zstdParams(input.zstdLevel) }) : input.plain;
  const nonce = input.nonce ?? new Uint8Array(randomBytes(CHUNK_NONCE_BYTES));
  const { ciphertext, sha256 } = xchachaEncrypt(input.key, nonce, chunkAad(input.sessionId, input.index), compressed);
  return { ciphertext, nonce, sha256, plainSize: input.plainSize ?? input.plain.length, compressedSize: compressed.length };
}

/** Reverses sealChunk; throws if the key, session, index or bytes are wrong (the tag does not verify). */
export function openChunk(sealed: Uint8Array, nonce: Uint8Array, sessionId: string, index: number, key: Uint8Array): Uint8Array {
  const compressed = xchachaDecrypt(key, nonce, chunkAad(sessionId, index), sealed);
  const plain = zstdDecompressSync(compressed);
  return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}
