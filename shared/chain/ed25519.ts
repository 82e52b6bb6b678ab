import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/**
 * Ed25519 signature verification with one acceptance rule everywhere Lucid verifies blocks.
 *
 * The platform's native Ed25519 (WebCrypto: Node ≥ 22, workerd, current browsers) is ~10–20× faster
 * than @noble/curves, which stays as the fallback where WebCrypto has no Ed25519 and as the reference
 * the tests compare against. The two disagree on crafted inputs — OpenSSL/BoringSSL check the
 * cofactorless equation and accept small-order or non-canonically encoded public keys; noble checks
 * the cofactored one — so both paths here apply the same stricter rule, under which the two
 * equations coincide:
 *   - the public key is a canonical encoding of a point in the prime-order subgroup (not small
 *     order, no torsion component): checked once per key with noble and remembered;
 *   - the signature is 64 bytes with S < L (both implementations refuse S ≥ L);
 *   - on the noble path R must also be torsion-free (the cofactorless native check refuses such R
 *     because it compares R's bytes with the canonical encoding of [S]B − [k]A).
 */
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
const Point = ed25519.Point;

/** WebCrypto's key type, named without the DOM/worker lib (not every tsconfig here includes one). */
type NativeKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

interface KeyEntry {
  /** False when the key breaks the rule above: every signature under it is refused. */
  acceptable: boolean;
  /**
   * The imported WebCrypto key once imported. A key, never a promise: in a Worker a promise
   * shared between requests runs one request's continuation in another's I/O context.
   */
  native?: NativeKey;
}

/** Producer keys are few; the bound only keeps a verifier fed hostile keys from growing without limit. */
const KEY_CACHE_LIMIT = 1024;
const keys = new Map<string, KeyEntry>();
/** Set once an import of an acceptable key fails: the platform lacks native Ed25519. */
let nativeMissing = typeof crypto === "undefined" || typeof crypto.subtle?.importKey !== "function";

function acceptableKey(publicKey: Uint8Array): boolean {
  try {
    const point = Point.fromBytes(publicKey, false);
    return !point.isSmallOrder() && point.isTorsionFree();
  } catch {
    return false;
  }
}

function keyEntry(publicKey: Uint8Array): KeyEntry {
  const id = bytesToHex(publicKey);
  let entry = keys.get(id);
  if (!entry) {
    entry = { acceptable: acceptableKey(publicKey) };
    if (keys.size >= KEY_CACHE_LIMIT) keys.delete(keys.keys().next().value!);
    keys.set(id, entry);
  }
  return entry;
}

function wellFormed(signature: Uint8Array, publicKey: Uint8Array): boolean {
  return (
    signature instanceof Uint8Array &&
    publicKey instanceof Uint8Array &&
    signature.length === SIGNATURE_BYTES &&
    publicKey.length === PUBLIC_KEY_BYTES
  );
}

/** The reference path (@noble/curves), synchronous; the same verdicts as the native path. */
export function verifyEd25519Noble(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!wellFormed(signature, publicKey) || !keyEntry(publicKey).acceptable) return false;
  try {
    if (!Point.fromBytes(signature.subarray(0, 32), false).isTorsionFree()) return false;
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** The native path; undefined when this platform's WebCrypto has no Ed25519. */
export async function verifyEd25519Native(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean | undefined> {
  if (nativeMissing) return undefined;
  if (!wellFormed(signature, publicKey)) return false;
  const entry = keyEntry(publicKey);
  if (!entry.acceptable) return false;
  if (!entry.native) {
    try {
      entry.native = await crypto.subtle.importKey("raw", publicKey.slice(), { name: "Ed25519" }, false, ["verify"]);
    } catch {
      // The key is a valid curve point (checked above), so a refusal means the algorithm is missing.
      nativeMissing = true;
      return undefined;
    }
  }
  const key = entry.native;
  // Copies: WebCrypto takes ArrayBuffer-backed views only (these are 64 and, for block hashes, 32 bytes).
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature.slice(), message.slice());
}

/** True when `signature` is `publicKey`'s Ed25519 signature of `message`: native when available, noble otherwise. */
export async function verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
  return (await verifyEd25519Native(signature, message, publicKey)) ?? verifyEd25519Noble(signature, message, publicKey);
}
