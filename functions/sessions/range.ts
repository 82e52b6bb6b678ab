import { ApiError } from "../../shared/errors.ts";
import type { ByteRange } from "../../platform/chunk-store/types.ts";

/**
 * Parses a single-range `Range: bytes=…` header (RFC 9110 §14) against an object's size.
 * Returns null to serve the whole object (no header, another unit, or several ranges, which
 * a server may ignore); throws 416 when the range selects nothing.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match;
  let start: number;
  let end: number;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== "" && Number(last) < start) return null;
  }
  if (start >= size || size === 0) throw unsatisfiable(size);
  return { offset: start, length: end - start + 1 };
}

function unsatisfiable(size: number): ApiError {
  return new ApiError(
    "range-not-satisfiable",
    `The range selects no byte of this ${size}-byte chunk.`,
    { size },
    {
      "Content-Range": `bytes */${size}`,
    },
  );
}
