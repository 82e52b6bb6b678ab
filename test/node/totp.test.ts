import { base32nopad } from "@scure/base";
import { describe, expect, it } from "vitest";
import { generateTotpSecret, hotp, matchTotp, otpauthUri, totpCode, totpStep } from "../../shared/totp.ts";

// RFC 6238 Appendix B (SHA-1 rows): key "12345678901234567890", 8 digits.
const RFC_KEY = base32nopad.encode(new TextEncoder().encode("12345678901234567890"));
const RFC_VECTORS: [number, string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

describe("TOTP (RFC 6238, SHA-1)", () => {
  it.each(RFC_VECTORS)("t=%i gives %s", (time, code) => {
    expect(totpCode(RFC_KEY, time, 8)).toBe(code);
  });

  it("RFC 4226 Appendix D HOTP values", () => {
    const key = new TextEncoder().encode("12345678901234567890");
    expect([0, 1, 2, 3, 9].map((c) => hotp(key, c))).toEqual(["755224", "287082", "359152", "969429", "520489"]);
  });

  it("accepts the current step and one either side, nothing further", () => {
    const secret = generateTotpSecret();
    const t = 1_800_000_000;
    const now = totpStep(t);
    expect(matchTotp(secret, totpCode(secret, t), t, -1)).toBe(now);
    expect(matchTotp(secret, totpCode(secret, t - 30), t, -1)).toBe(now - 1);
    expect(matchTotp(secret, totpCode(secret, t + 30), t, -1)).toBe(now + 1);
    const farPast = totpCode(secret, t - 60);
    const farFuture = totpCode(secret, t + 60);
    // (a far code could collide with a near one by chance; only assert when it does not)
    if (![now - 1, now, now + 1].some((s) => totpCode(secret, s * 30) === farPast)) expect(matchTotp(secret, farPast, t, -1)).toBeNull();
    if (![now - 1, now, now + 1].some((s) => totpCode(secret, s * 30) === farFuture))
      expect(matchTotp(secret, farFuture, t, -1)).toBeNull();
  });

  it("refuses a replay: a code for a step at or before the last used one", () => {
    const secret = generateTotpSecret();
    const t = 1_800_000_000;
    const step = matchTotp(secret, totpCode(secret, t), t, -1)!;
    expect(matchTotp(secret, totpCode(secret, t), t, step)).toBeNull();
    expect(matchTotp(secret, totpCode(secret, t - 30), t, step)).toBeNull();
  });

  it("refuses malformed codes", () => {
    const secret = generateTotpSecret();
    for (const bad of ["", "12345", "1234567", "abcdef", " 123456"]) expect(matchTotp(secret, bad, 1_800_000_000, -1)).toBeNull();
  });

  it("builds an otpauth URI authenticator apps accept", () => {
    const uri = new URL(otpauthUri("Lucid", "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", "JBSWY3DPEHPK3PXP"));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.searchParams.get("secret")).toBe("JBSWY3DPEHPK3PXP");
    expect(uri.searchParams.get("period")).toBe("30");
    expect(uri.searchParams.get("algorithm")).toBe("SHA1");
  });
});
