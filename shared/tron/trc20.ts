import { toHexAddress } from "./address.ts";

/**
 * TRC20 ABI encoding for the calls Lucid makes (same as ERC-20): a 4-byte selector followed
 * by 32-byte words; addresses are the 20 bytes after TRON's 0x41 prefix.
 */
export const SELECTORS = {
  "transfer(address,uint256)": "a9059cbb",
  "balanceOf(address)": "70a08231",
  "allowance(address,address)": "dd62ed3e",
  "decimals()": "313ce567",
} as const;

const MAX_UINT256 = (1n << 256n) - 1n;

export function addressWord(address: string): string {
  return toHexAddress(address).slice(2).padStart(64, "0");
}

export function uintWord(value: bigint): string {
  if (value < 0n || value > MAX_UINT256) throw new RangeError("uint256 out of range");
  return value.toString(16).padStart(64, "0");
}

/** Parameters only (what /wallet/trigger*contract takes as `parameter`). */
export const transferParameter = (to: string, amount: bigint) => addressWord(to) + uintWord(amount);
export const balanceOfParameter = (owner: string) => addressWord(owner);
export const allowanceParameter = (owner: string, spender: string) => addressWord(owner) + addressWord(spender);

/** Full call data (selector ‖ parameter), what a TriggerSmartContract carries in `data`. */
export function transferData(to: string, amount: bigint): string {
  return SELECTORS["transfer(address,uint256)"] + transferParameter(to, amount);
}

/** Decodes a uint256 from constant_result[0]. */
export function decodeUint(word: string | undefined): bigint {
  if (!word || !/^[0-9a-fA-F]{64}$/.test(word)) throw new Error("constant result is not a 32-byte word");
  return BigInt(`0x${word}`);
}
