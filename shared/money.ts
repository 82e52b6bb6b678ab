/**
 * Money as integer base units. USDT (TRC20) and TRX both have 6 decimals:
 * 1 USDT = 1 000 000 units, 1 TRX = 1 000 000 sun. JSON carries decimal strings
 * ("12.500000"), TypeScript carries bigint, SQLite carries INTEGER. Never a float.
 */
export const USDT_DECIMALS = 6;
export const TRX_DECIMALS = 6;

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

export class MoneyFormatError extends Error {
  override name = "MoneyFormatError";
}

/** Parses "12.5" into 12500000n (6 decimals). Refuses more fractional digits than the asset has. */
export function parseUnits(text: string, decimals = USDT_DECIMALS): bigint {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new MoneyFormatError(`"${text}" is not a decimal amount`);
  const [, sign, whole, fraction = ""] = match;
  if (fraction.length > decimals) {
    throw new MoneyFormatError(`"${text}" has more than ${decimals} decimal places`);
  }
  const units = BigInt(whole!) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  return sign ? -units : units;
}

/** Formats 12500000n as "12.500000": always every decimal place, so strings compare and diff cleanly. */
export function formatUnits(units: bigint, decimals = USDT_DECIMALS): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const scale = 10n ** BigInt(decimals);
  const whole = abs / scale;
  const fraction = (abs % scale).toString().padStart(decimals, "0");
  return `${negative ? "-" : ""}${whole}${decimals > 0 ? `.${fraction}` : ""}`;
}
