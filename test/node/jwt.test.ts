import { base64urlnopad } from "@scure/base";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JwtError, JwtKeyring } from "../../shared/jwt.ts";

const CURRENT = "current-secret-0123456789abcdef0123456789abcdef";
const PREVIOUS = "previous-secret-0123456789abcdef0123456789abcde";
const b64 = (value: unknown) => base64urlnopad.encode(new TextEncoder().encode(JSON.stringify(value)));
const NOW = 1_800_000_000;

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "accepted";
  } catch (error) {
    if (error instanceof JwtError) return error.reason;
    throw error;
  }
}

describe("JwtKeyring (HS256, alg pinned, kid rotation)", () => {
  it("round-trips and checks exp, nbf and iat", async () => {
    const ring = await JwtKeyring.create(CURRENT, PREVIOUS);
    expect(await ring.verify(await ring.sign({ sub: "u", exp: NOW + 60 }), NOW)).toMatchObject({ sub: "u" });
    expect(await reasonOf(ring.verify(await ring.sign({ sub: "u", exp: NOW }), NOW))).toBe("expired");
    expect(await reasonOf(ring.verify(await ring.sign({ sub: "u", exp: NOW + 60, nbf: NOW + 600 }), NOW))).toBe("not-yet-valid");
    expect(await reasonOf(ring.verify(await ring.sign({ sub: "u", exp: NOW + 60, iat: NOW + 600 }), NOW))).toBe("not-yet-valid");
    expect(await reasonOf(ring.verify(await ring.sign({ sub: "u" } as never), NOW))).toBe("malformed");
  });

  it("accepts the previous key by its kid, and after rotation the new ring still reads old tokens", async () => {
    const old = await JwtKeyring.create(PREVIOUS);
    const token = await old.sign({ sub: "u", exp: NOW + 60 });
    const rotated = await JwtKeyring.create(CURRENT, PREVIOUS);
    expect(rotated.currentKid).not.toBe(old.currentKid);
    expect(await rotated.verify(token, NOW)).toMatchObject({ sub: "u" });
    // Once the previous key is dropped, its tokens name an unknown kid.
    expect(await reasonOf((await JwtKeyring.create(CURRENT)).verify(token, NOW))).toBe("unknown-key");
  });

  it("refuses alg none / HS512 / RS256 headers, extra header parameters and a wrong typ", async () => {
    const ring = await JwtKeyring.create(CURRENT);
    const [, payload, signature] = (await ring.sign({ sub: "u", exp: NOW + 60 })).split(".");
    for (const header of [{ alg: "none" }, { alg: "HS512" }, { alg: "RS256" }, { alg: "hs256" }]) {
      expect(await reasonOf(ring.verify(`${b64(header)}.${payload}.${signature}`, NOW))).toBe("algorithm");
    }
    for (const header of [{ alg: "HS256", jku: "https://evil" }, { alg: "HS256", crit: ["exp"] }, { alg: "HS256", typ: "JWE" }, [1]]) {
      expect(await reasonOf(ring.verify(`${b64(header)}.${payload}.${signature}`, NOW))).toBe("malformed");
    }
    expect(await reasonOf(ring.verify(`${b64({ alg: "none" })}.${payload}.`, NOW))).toBe("malformed");
  });

  it("any single-character change to a token is refused", async () => {
    const ring = await JwtKeyring.create(CURRENT);
    const token = await ring.sign({ sub: "user-1", role: "USER", exp: NOW + 60 });
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    await fc.assert(
      fc.asyncProperty(fc.nat(token.length - 1), fc.nat(alphabet.length - 1), async (at, pick) => {
        fc.pre(token[at] !== "." && token[at] !== alphabet[pick]);
        const forged = token.slice(0, at) + alphabet[pick] + token.slice(at + 1);
        await expect(ring.verify(forged, NOW)).rejects.toBeInstanceOf(JwtError);
      }),
      { numRuns: 300 },
    );
  });
});
