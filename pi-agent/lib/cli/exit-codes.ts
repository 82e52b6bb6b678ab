/** Exit codes with a meaning scripts can branch on (sysexits-style where one fits). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 64, // EX_USAGE: bad command line
  dataError: 65, // EX_DATAERR: a file to decode is corrupt, or the key does not open it
  captureFailed: 69, // EX_UNAVAILABLE: the display cannot be captured, or a command needs a missing service
  spoolFull: 73, // EX_CANTCREAT: the spool quota is reached; recording stopped cleanly
  uploadRejected: 76, // EX_PROTOCOL: the server permanently refused a chunk; it stays in the spool
  refused: 77, // EX_NOPERM: the node API refused this node (operator token, resources, revoked credential)
} as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function positiveNumber(value: string | undefined, name: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? "integer" : "number"}, got "${value}"`);
  }
  return n;
}
