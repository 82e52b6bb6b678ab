import { describe, expect, it } from "vitest";
import { parseRange } from "../../functions/sessions/range.ts";
import { ApiError } from "../../shared/errors.ts";

describe("parseRange (RFC 9110 single byte ranges)", () => {
  it("reads first-last, open-ended and suffix ranges, clamped to the size", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ offset: 0, length: 10 });
    expect(parseRange("bytes=90-", 100)).toEqual({ offset: 90, length: 10 });
    expect(parseRange("bytes=90-500", 100)).toEqual({ offset: 90, length: 10 });
    expect(parseRange("bytes=-30", 100)).toEqual({ offset: 70, length: 30 });
    expect(parseRange("bytes=-500", 100)).toEqual({ offset: 0, length: 100 });
  });

  it("serves the whole object for no header, other units, several ranges or a reversed range", () => {
    for (const header of [undefined, "", "items=0-1", "bytes=0-1,5-6", "bytes=9-3", "bytes=-", "bytes=a-b"]) {
      expect(parseRange(header, 100)).toBeNull();
    }
  });

  it("416 when nothing is selected", () => {
    for (const header of ["bytes=100-", "bytes=100-200", "bytes=-0"]) {
      try {
        parseRange(header, 100);
        throw new Error(`expected 416 for ${header}`);
      } catch (error) {
        expect(error).toBeInstanceOf(ApiError);
        expect((error as ApiError).status).toBe(416);
        expect((error as ApiError).headers["Content-Range"]).toBe("bytes */100");
      }
    }
    expect(() => parseRange("bytes=0-", 0)).toThrow(ApiError);
  });
});
