/**
 * TRON message signatures (TIP-191, tronweb's `Trx.signMessageV2`/`verifyMessageV2`) and
 * address encoding, with @noble only: small and fast enough for the login request path
 * (tronweb itself is ~0.9 MB and is kept to tests and the payments code).
 *
 * - address = base58check(0x41 ‖ keccak256(uncompressed public key without 0x04)[12..32])
 * - v2 message hash = keccak256("\x19TRON Signed Message:\n" ‖ decimal byte length ‖ message)
 * - signature = r ‖ s ‖ (recovery id + 27), 65 bytes, hex with or without 0x
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { createBase58check } from "@scure/base";

const TRON_ADDRESS_PREFIX = 0x41;
const MESSAGE_PREFIX = utf8ToBytes("\x19TRON Signed Message:\n");
const base58check = createBase58check(sha256);
const SIGNATURE_HEX = /^(0x)?[0-9a-fA-F]{130}$/;

/** A base58 TRON address such as `TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC`. */
export const TRON_ADDRESS_PATTERN = /^T[1-9A-HJ-NP-Za-km-z]{33}$/;

export class TronSignatureError extends Error {
  override name = "TronSignatureError";
}

/** 21 address bytes (0x41 ‖ 20) → base58check. */
export function addressFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 21 || bytes[0] !== TRON_ADDRESS_PREFIX) throw new TronSignatureError("not a 21-byte 0x41 address");
  return base58check.encode(bytes);
}

/** base58check → 21 bytes, or null when the text is not a valid TRON address (checksum included). */
export function addressToBytes(address: string): Uint8Array | null {
  if (!TRON_ADDRESS_PATTERN.test(address)) return null;
  try {
    const bytes = base58check.decode(address);
    return bytes.length === 21 && bytes[0] === TRON_ADDRESS_PREFIX ? bytes : null;
  } catch {
    return null;
  }
}

export function isTronAddress(address: string): boolean {
  return addressToBytes(address) !== null;
}

/** Hex form (`41…`, 42 chars) of a base58 address. */
export function addressToHex(address: string): string {
  const bytes = addressToBytes(address);
  if (!bytes) throw new TronSignatureError("invalid TRON address");
  return bytesToHex(bytes);
}

/** Address of an uncompressed (65-byte) or compressed (33-byte) secp256k1 public key. */
export function addressFromPublicKey(publicKey: Uint8Array): string {
  const point = secp256k1.Point.fromBytes(publicKey);
  const uncompressed = point.toBytes(false);
  const digest = keccak_256(uncompressed.subarray(1));
  return addressFromBytes(concatBytes(Uint8Array.of(TRON_ADDRESS_PREFIX), digest.subarray(12)));
}

export function addressFromPrivateKey(privateKey: Uint8Array): string {
  return addressFromPublicKey(secp256k1.getPublicKey(privateKey, false));
}

/** keccak256("\x19TRON Signed Message:\n" ‖ length ‖ message); a string message is UTF-8. */
export function hashMessageV2(message: string | Uint8Array): Uint8Array {
  const bytes = typeof message === "string" ? utf8ToBytes(message) : message;
  return keccak_256(concatBytes(MESSAGE_PREFIX, utf8ToBytes(String(bytes.length)), bytes));
}

/** Signs like tronweb's `Trx.signMessageV2`: `0x` ‖ r ‖ s ‖ (recovery + 27). */
export function signMessageV2(message: string | Uint8Array, privateKey: Uint8Array): string {
  const recovered = secp256k1.sign(hashMessageV2(message), privateKey, { prehash: false, format: "recovered" });
  // noble's "recovered" layout is recovery ‖ r ‖ s; TRON's is r ‖ s ‖ (recovery + 27).
  const out = concatBytes(recovered.subarray(1), Uint8Array.of(recovered[0]! + 27));
  return `0x${bytesToHex(out)}`;
}

/**
 * The base58 address that signed `message` (like tronweb's `Trx.verifyMessageV2`).
 * Throws TronSignatureError for a malformed signature or one from which no key recovers.
 */
export function recoverMessageV2Signer(message: string | Uint8Array, signatureHex: string): string {
  if (!SIGNATURE_HEX.test(signatureHex)) throw new TronSignatureError("signature must be 65 bytes of hex");
  const bytes = hexToBytes(signatureHex.replace(/^0x/, ""));
  const v = bytes[64]!;
  // tronweb accepts v as 27/28 (and, like ethers, the raw 0/1 some signers emit).
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery !== 0 && recovery !== 1) throw new TronSignatureError("invalid recovery byte");
  try {
    const signature = secp256k1.Signature.fromBytes(bytes.subarray(0, 64), "compact").addRecoveryBit(recovery);
    // High-S signatures are refused: every honest signer (tronweb, noble, hardware wallets) emits low S.
    if (signature.hasHighS()) throw new TronSignatureError("non-canonical (high-S) signature");
    const point = signature.recoverPublicKey(hashMessageV2(message));
    return addressFromPublicKey(point.toBytes(false));
  } catch (error) {
    if (error instanceof TronSignatureError) throw error;
    throw new TronSignatureError("no public key recovers from this signature");
  }
}

/** True when `signatureHex` is `address`'s v2 signature of `message`; never throws. */
export function verifyMessageV2(message: string | Uint8Array, signatureHex: string, address: string): boolean {
  try {
    return recoverMessageV2Signer(message, signatureHex) === address;
  } catch {
    return false;
  }
}
