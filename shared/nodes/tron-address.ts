import { base58check } from "@scure/base";
import { sha256 } from "@noble/hashes/sha2.js";

/** TRON mainnet addresses: 0x41 ‖ 20-byte account id, base58check (double SHA-256 checksum). */
const TRON_PREFIX = 0x41;
const codec = base58check(sha256);

/** True when `text` is a base58check TRON address whose checksum and 0x41 prefix are right. */
export function isTronAddress(text: string): boolean {
  if (!/^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(text)) return false;
  try {
    const payload = codec.decode(text);
    return payload.length === 21 && payload[0] === TRON_PREFIX;
  } catch {
    return false;
  }
}
