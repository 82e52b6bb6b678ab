import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { createBase58check } from "@scure/base";

/**
 * TRON addresses: 0x41 ‖ keccak256(uncompressed public key without 0x04)[12..32],
 * written as base58check (double SHA-256 checksum) or as 42 hex characters.
 */
const base58check = createBase58check(sha256);
const HEX_ADDRESS = /^41[0-9a-fA-F]{40}$/;
const BASE58_ADDRESS = /^T[1-9A-HJ-NP-Za-km-z]{33}$/;

export class AddressError extends Error {
  override name = "AddressError";
}

export function isBase58Address(text: string): boolean {
  if (!BASE58_ADDRESS.test(text)) return false;
  try {
    const bytes = base58check.decode(text);
    return bytes.length === 21 && bytes[0] === 0x41;
  } catch {
    return false;
  }
}

/** "T…" → "41…" (lower-case hex). Throws AddressError on a bad checksum or prefix. */
export function toHexAddress(address: string): string {
  if (HEX_ADDRESS.test(address)) return address.toLowerCase();
  if (!isBase58Address(address)) throw new AddressError(`"${address}" is not a TRON address`);
  return bytesToHex(base58check.decode(address));
}

/** "41…" → "T…". */
export function toBase58Address(address: string): string {
  if (BASE58_ADDRESS.test(address)) {
    if (!isBase58Address(address)) throw new AddressError(`"${address}" is not a TRON address`);
    return address;
  }
  if (!HEX_ADDRESS.test(address)) throw new AddressError(`"${address}" is not a TRON address`);
  return base58check.encode(hexToBytes(address.toLowerCase()));
}

/** Address of an uncompressed (65-byte) or compressed (33-byte) secp256k1 public key. */
export function addressFromPublicKey(publicKey: Uint8Array): string {
  const point = publicKey.length === 65 ? publicKey : secp256k1.Point.fromBytes(publicKey).toBytes(false);
  const hash = keccak_256(point.subarray(1));
  const raw = new Uint8Array(21);
  raw[0] = 0x41;
  raw.set(hash.subarray(12), 1);
  return base58check.encode(raw);
}

export function addressFromPrivateKey(privateKey: Uint8Array): string {
  return addressFromPublicKey(secp256k1.getPublicKey(privateKey, false));
}

/** A fresh key pair from the platform CSPRNG (noble uses crypto.getRandomValues). */
export function createAccount(): { privateKey: Uint8Array; address: string } {
  const privateKey = secp256k1.utils.randomSecretKey();
  return { privateKey, address: addressFromPrivateKey(privateKey) };
}
