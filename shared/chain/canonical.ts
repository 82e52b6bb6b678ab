/**
 * Canonical encoding for hashing and signing: JSON Canonicalization Scheme (RFC 8785) restricted
 * to the values Lucid's chain carries — strings, safe integers, booleans, null, arrays and plain
 * objects. Keys are sorted by UTF-16 code units, there is no whitespace, and anything outside
 * that set (floats, bigint, undefined, NaN) is refused rather than silently normalised, so two
 * implementations can never disagree about the bytes behind a hash.
 */
export type Canonical = string | number | boolean | null | Canonical[] | { [key: string]: Canonical };

export class CanonicalError extends Error {
  override name = "CanonicalError";
}

export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isSafeInteger(value)) throw new CanonicalError(`only safe integers are canonical (got ${value})`);
      return String(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalError("only plain objects are canonical");
      // The default sort compares UTF-16 code units; one string built in place (a proof check
      // encodes a transaction and a header, a block thousands of transactions).
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = "{";
      for (const key of keys) {
        const item = record[key];
        if (item === undefined) continue;
        if (out.length > 1) out += ",";
        out += `${JSON.stringify(key)}:${canonicalJson(item)}`;
      }
      return `${out}}`;
    }
    default:
      throw new CanonicalError(`${typeof value} is not canonical`);
  }
}

const encoder = new TextEncoder();

export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}
