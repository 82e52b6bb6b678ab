/** Display helpers. Money stays a decimal string or bigint base units; never a float sum. */
export const USDT_UNITS = 1_000_000n;

/** "12.500000" → 12500000n. Throws on anything that is not a plain decimal. */
export function usdtUnits(decimal: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(decimal.trim());
  if (!match) throw new RangeError(`not a USDT amount: ${decimal}`);
  const units = BigInt(match[2]!) * USDT_UNITS + BigInt((match[3] ?? "").padEnd(6, "0"));
  return match[1] ? -units : units;
}

export function formatUsdt(units: bigint): string {
  const sign = units < 0n ? "-" : "";
  const abs = units < 0n ? -units : units;
  return `${sign}${abs / USDT_UNITS}.${(abs % USDT_UNITS).toString().padStart(6, "0")}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime())
    ? "—"
    : date
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, " UTC");
}

export const shortTime = (ms: number) => new Date(ms).toISOString().slice(11, 16);
export const shortDate = (ms: number) => new Date(ms).toISOString().slice(5, 10);

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

export const short = (id: string, n = 8) => (id.length > n + 2 ? `${id.slice(0, n)}…` : id);
