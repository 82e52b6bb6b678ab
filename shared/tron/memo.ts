import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

/**
 * Memos as TRON carries them: `raw_data.data` (protobuf field 10 of Transaction.raw), bytes the
 * txid commits to. A payout's memo names the payout, so two payouts never build the same
 * transaction (same owner, recipient, amount and reference block would otherwise give one txid).
 */
const PAYOUT_PREFIX = "lucid:payout:";

export function payoutMemo(payoutId: string): Uint8Array {
  return new TextEncoder().encode(PAYOUT_PREFIX + payoutId);
}

/** The payout id a transaction's `raw_data.data` (hex) names, or null when it names none. */
export function payoutIdFromMemo(dataHex: string | undefined): string | null {
  if (!dataHex || !/^([0-9a-fA-F]{2})+$/.test(dataHex)) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(hexToBytes(dataHex));
  } catch {
    return null;
  }
  return text.startsWith(PAYOUT_PREFIX) ? text.slice(PAYOUT_PREFIX.length) : null;
}

export const payoutMemoHex = (payoutId: string) => bytesToHex(payoutMemo(payoutId));
