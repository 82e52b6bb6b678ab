import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatUnits, MoneyFormatError, parseUnits } from "../../shared/money.ts";

describe("money", () => {
  it("parses decimal strings into base units", () => {
    expect(parseUnits("1.0")).toBe(1_000_000n);
    expect(parseUnits("10000.0")).toBe(10_000_000_000n);
    expect(parseUnits("0.1")).toBe(100_000n);
    expect(parseUnits("0.000001")).toBe(1n);
    expect(parseUnits("-2.5")).toBe(-2_500_000n);
  });

  it.each(["", "1e6", "1.0000001", "abc", "1.", ".5", "1,5", "NaN", "Infinity"])("refuses %j", (text) => {
    expect(() => parseUnits(text)).toThrow(MoneyFormatError);
  });

  it("formats with every decimal place", () => {
    expect(formatUnits(12_500_000n)).toBe("12.500000");
    expect(formatUnits(1n)).toBe("0.000001");
    expect(formatUnits(-1n)).toBe("-0.000001");
  });

  it("round-trips any amount", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (units) => {
        expect(parseUnits(formatUnits(units))).toBe(units);
      }),
    );
  });
});
