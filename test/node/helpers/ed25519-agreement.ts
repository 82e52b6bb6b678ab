import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyEd25519, verifyEd25519Native, verifyEd25519Noble } from "../../../shared/chain/ed25519.ts";

/**
 * The native (WebCrypto) and noble Ed25519 paths must give the same verdict on every input, or two
 * verifiers could disagree about a block. Run under Node (OpenSSL) and inside workerd (BoringSSL).
 */
const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const P = Point.Fp.ORDER;
const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 255n));
const fromLE = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) + BigInt(x), 0n);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};
// A point of order 8 (RFC 8032 test material; small-order points break naive verifiers).
const TORSION = Point.fromBytes(
  Uint8Array.from([
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
    0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
  ]),
);

/** Signs honestly for an arbitrary public key point and nonce point (how a malicious signer crafts edge cases). */
function craft(seed: Uint8Array, message: Uint8Array, publicKey: Uint8Array, nonceTorsion: boolean) {
  const { scalar, prefix } = ed25519.utils.getExtendedPublicKey(seed);
  const r = fromLE(sha512(concat(prefix, message))) % L;
  let R = Point.BASE.multiply(r);
  if (nonceTorsion) R = R.add(TORSION);
  const k = fromLE(sha512(concat(R.toBytes(), publicKey, message))) % L;
  return concat(R.toBytes(), le((r + k * scalar) % L));
}

async function verdicts(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) {
  const native = await verifyEd25519Native(signature, message, publicKey);
  const noble = verifyEd25519Noble(signature, message, publicKey);
  const chosen = await verifyEd25519(signature, message, publicKey);
  return { native, noble, chosen };
}

async function expectAgreement(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, expected?: boolean) {
  const v = await verdicts(signature, message, publicKey);
  expect(v.native).toBe(v.noble);
  expect(v.chosen).toBe(v.noble);
  if (expected !== undefined) expect(v.noble).toBe(expected);
}

export function ed25519AgreementSuite(platform: string) {
  describe(`Ed25519: native WebCrypto (${platform}) and @noble/curves agree`, () => {
    const seed = new Uint8Array(32).fill(7);
    const publicKey = ed25519.getPublicKey(seed);
    const message = new Uint8Array(32).fill(1);
    const signature = ed25519.sign(message, seed);

    it("the platform has native Ed25519 (otherwise this suite would compare noble with itself)", async () => {
      expect(await verifyEd25519Native(signature, message, publicKey)).toBe(true);
    });

    it("valid signatures pass and any flipped bit fails, on both paths", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 200 }),
          fc.nat(),
          fc.constantFrom("signature", "message", "publicKey"),
          async (sk, msg, at, part) => {
            const pk = ed25519.getPublicKey(sk);
            const sig = ed25519.sign(msg, sk);
            await expectAgreement(sig, msg, pk, true);
            const parts = { signature: sig.slice(), message: msg.slice(), publicKey: pk.slice() };
            const target = parts[part];
            if (target.length === 0) return;
            const bit = at % (target.length * 8);
            target[bit >> 3]! ^= 1 << (bit & 7);
            await expectAgreement(parts.signature, parts.message, parts.publicKey, false);
          },
        ),
        { numRuns: 150 },
      );
    });

    it("random keys and signatures (mostly not curve points) get the same verdict", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 64, maxLength: 64 }),
          fc.uint8Array({ maxLength: 64 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          async (sig, msg, pk) => expectAgreement(sig, msg, pk, false),
        ),
        { numRuns: 150 },
      );
    });

    it("malformed lengths are refused, never thrown", async () => {
      await expectAgreement(signature.slice(0, 63), message, publicKey, false);
      await expectAgreement(concat(signature, new Uint8Array(1)), message, publicKey, false);
      await expectAgreement(signature, message, publicKey.slice(0, 31), false);
      await expectAgreement(signature, message, new Uint8Array(0), false);
    });

    it("crafted edge cases where OpenSSL/BoringSSL and noble differ by default get one verdict", async () => {
      const s = fromLE(signature.subarray(32));
      // S ≥ L (malleated signature).
      await expectAgreement(concat(signature.subarray(0, 32), le(s + L)), message, publicKey, false);
      // Small-order public keys: the identity with R = identity, S = 0 satisfies both equations.
      const identity = le(1n);
      await expectAgreement(concat(identity, le(0n)), message, identity, false);
      await expectAgreement(concat(identity, le(0n)), message, TORSION.toBytes(), false);
      // The identity encoded non-canonically (y = p + 1): native accepts it by default.
      await expectAgreement(concat(identity, le(0n)), message, le(P + 1n), false);
      for (let j = 0; j < 8; j++) {
        const m = new Uint8Array(16).fill(j);
        // A mixed-order key (good key + torsion) with an honest signature: the cofactored equation holds.
        const mixed = Point.BASE.multiply(ed25519.utils.getExtendedPublicKey(seed).scalar).add(TORSION).toBytes();
        await expectAgreement(craft(seed, m, mixed, false), m, mixed, false);
        // A torsion component in R under a good key.
        await expectAgreement(craft(seed, m, publicKey, true), m, publicKey, false);
        // The same construction without torsion is an ordinary valid signature.
        await expectAgreement(craft(seed, m, publicKey, false), m, publicKey, true);
      }
    });
  });
}
