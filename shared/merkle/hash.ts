import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

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

const HEX32 = /^[0-9a-f]{64}$/;

/** Parses a lowercase hex SHA-256; throws RangeError for anything else. */
export function fromHex(hex: string): Uint8Array {
  if (!HEX32.test(hex)) throw new RangeError("expected 64 lowercase hex characters");
  return hexToBytes(hex);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
