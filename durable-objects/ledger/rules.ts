import type { Config } from "../../shared/config.ts";
import { formatUnits, MoneyFormatError, parseUnits } from "../../shared/money.ts";
import { isBase58Address } from "../../shared/tron/address.ts";
import { RefusalError } from "../../shared/outcome.ts";

/** Parses a decimal amount string into base units, or a 400 invalid-amount naming why. */
export function parseAmount(text: unknown, range?: { min: bigint; max: bigint }, what = "amount"): bigint {
  if (typeof text !== "string") throw new RefusalError("invalid-amount", `${what} must be a decimal string such as "12.5".`);
  let units: bigint;
  try {
    units = parseUnits(text);
  } catch (error) {
    const detail = error instanceof MoneyFormatError ? error.message : `"${text}" is not a decimal amount`;
    throw new RefusalError("invalid-amount", `${what}: ${detail}.`);
  }
  if (units <= 0n) throw new RefusalError("invalid-amount", `${what} must be greater than zero.`);
  if (range && (units < range.min || units > range.max)) {
    const [min, max] = [formatUnits(range.min), formatUnits(range.max)];
    throw new RefusalError("invalid-amount", `${what} must be between ${min} and ${max}.`, { min, max });
  }
  return units;
}

export function requireAddress(address: unknown, what = "address"): string {
  if (typeof address !== "string" || !isBase58Address(address)) {
    throw new RefusalError("invalid-address", `${what} is not a valid TRON address.`);
  }
  return address;
}

export function payoutRange(config: Config) {
  return { min: config.MIN_PAYOUT_AMOUNT, max: config.MAX_PAYOUT_AMOUNT };
}

/** Reward rate as parts per million (0.1 → 100 000), so reward arithmetic stays in bigint. */
export function ratePpm(rate: number): number {
  return Math.round(rate * 1_000_000);
}

const YEAR_MS = 365n * 24n * 3600n * 1000n;

/** Simple (non-compounding) reward accrued on `amount` at `ppm` per year over `elapsedMs`. */
export function accruedReward(amount: bigint, ppm: number, elapsedMs: number): bigint {
  if (elapsedMs <= 0) return 0n;
  return (amount * BigInt(ppm) * BigInt(Math.floor(elapsedMs))) / (1_000_000n * YEAR_MS);
}
