import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

type OneShotHash = (algorithm: "sha256", data: Uint8Array, outputEncoding: "buffer") => Uint8Array;

/**
 * The platform's native one-shot SHA-256 when it has a synchronous one: Node's `crypto.hash`
 * (≥ 21.7), reached through `process.getBuiltinModule` so that shared/ imports no Node built-in.
 * Elsewhere (workerd without nodejs_compat, browsers: only the asynchronous WebCrypto digest)
 * undefined, and @noble/hashes (the reference the tests compare against) does the work.
 */
const nativeHash: OneShotHash | undefined = (() => {
  try {
    const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const hash = (nodeProcess?.getBuiltinModule?.("node:crypto") as { hash?: OneShotHash } | undefined)?.hash;
    if (typeof hash !== "function") return undefined;
    const probe = hash("sha256", new Uint8Array(0), "buffer");
    return bytesToHex(probe) === bytesToHex(nobleSha256(new Uint8Array(0))) ? hash : undefined;
  } catch {
    return undefined;
  }
})();

/** SHA-256, natively where the platform offers it synchronously (see nativeHash), else @noble/hashes. */
export function sha256(data: Uint8Array): Uint8Array {
  if (nativeHash) {
    const digest = nativeHash("sha256", data, "buffer");
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }
  return nobleSha256(data);
}

/**
 * RFC 9162 §2.1.1 hashing: domain separation keeps a leaf from ever being read as an
 * interior node (second-preimage protection).
 */
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

export const HASH_BYTES = 32;

/** The Merkle tree hash of the empty tree: SHA-256 of no bytes. */
export const EMPTY_ROOT: Uint8Array = nobleSha256(new Uint8Array(0));

/** leaf = SHA-256(0x00 ‖ data) */
export function hashLeaf(data: Uint8Array): Uint8Array {
  const input = new Uint8Array(data.length + 1);
  input[0] = LEAF_PREFIX;
  input.set(data, 1);
  return sha256(input);
}

/** node = SHA-256(0x01 ‖ left ‖ right) */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = NODE_PREFIX;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return sha256(input);
}

export function toHex(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}

/** Each character code's value as a lowercase hex digit, 255 for any other character. */
const HEX_DIGIT = new Uint8Array(256).fill(255);
for (let i = 0; i < 16; i++) HEX_DIGIT["0123456789abcdef".charCodeAt(i)] = i;

const hexDigit = (code: number): number => (code < 256 ? HEX_DIGIT[code]! : 255);

/**
 * Lowercase hex to bytes in one pass (a table lookup a character; proofs decode a dozen of these
 * per check); throws RangeError for an odd length or any other character, upper case included.
 */
export function decodeHex(hex: string): Uint8Array {
  if (typeof hex !== "string" || hex.length % 2 !== 0) throw new RangeError("expected lowercase hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(hex.charCodeAt(2 * i));
    const lo = hexDigit(hex.charCodeAt(2 * i + 1));
    if (hi === 255 || lo === 255) throw new RangeError("expected lowercase hex");
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Parses a lowercase hex SHA-256; throws RangeError for anything else. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== "string" || hex.length !== 64) throw new RangeError("expected 64 lowercase hex characters");
  try {
    return decodeHex(hex);
  } catch {
    throw new RangeError("expected 64 lowercase hex characters");
  }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
