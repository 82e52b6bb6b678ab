import { sha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EMPTY_ROOT, MerkleTree, fromHex, hashLeaf, toHex, verifyConsistency, verifyInclusion } from "../../shared/merkle/index.ts";

// A naive reference written straight from RFC 9162 §2.1's recursive definitions, with its own hashing.
const H = (...parts: number[][]) => sha256(Uint8Array.from(parts.flat()));
const bytes = (u: Uint8Array) => [...u];
function k(n: number) {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return H([]);
  if (d.length === 1) return H([0], bytes(d[0]!));
  const s = k(d.length);
  return H([1], bytes(mth(d.slice(0, s))), bytes(mth(d.slice(s))));
}
function path(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length === 1) return [];
  const s = k(d.length);
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}

const leaves = fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 70 });
const hex = (list: Uint8Array[]) => list.map(toHex);

describe("shared/merkle against the RFC 9162 reference", () => {
  it("roots agree for every size", () => {
    fc.assert(fc.property(leaves, (d) => toHex(MerkleTree.fromData(d).root()) === toHex(mth(d))));
  });

  it("inclusion proofs agree and verify; a changed leaf, index or root fails", () => {
    fc.assert(
      fc.property(leaves, fc.nat(), (d, seed) => {
        const tree = MerkleTree.fromData(d);
        const m = seed % d.length;
        const proof = tree.inclusionProof(m);
        expect(hex(proof)).toEqual(hex(path(m, d)));
        const leaf = hashLeaf(d[m]!);
        expect(verifyInclusion(leaf, m, d.length, proof, tree.root())).toBe(true);
        expect(verifyInclusion(hashLeaf(Uint8Array.of(...d[m]!, 1)), m, d.length, proof, tree.root())).toBe(false);
        expect(verifyInclusion(leaf, m, d.length, proof, EMPTY_ROOT)).toBe(false);
        if (d.length > 1) {
          const other = (m + 1) % d.length;
          if (toHex(hashLeaf(d[other]!)) !== toHex(leaf)) {
            expect(verifyInclusion(leaf, other, d.length, proof, tree.root())).toBe(false);
          }
        }
      }),
    );
  });

  it("consistency proofs agree and verify; a wrong old root or size fails", () => {
    fc.assert(
      fc.property(leaves, fc.nat(), (d, seed) => {
        const tree = MerkleTree.fromData(d);
        const m = (seed % d.length) + 1;
        const proof = tree.consistencyProof(m);
        expect(hex(proof)).toEqual(hex(subproof(m, d, true)));
        const oldRoot = mth(d.slice(0, m));
        expect(verifyConsistency(m, d.length, proof, oldRoot, tree.root())).toBe(true);
        if (m < d.length) {
          expect(verifyConsistency(m, d.length, proof, mth(d.slice(0, m + 1)), tree.root())).toBe(false);
          expect(verifyConsistency(m, d.length, proof, oldRoot, oldRoot)).toBe(false);
          expect(verifyConsistency(m, d.length, [], oldRoot, tree.root())).toBe(false);
        }
      }),
    );
  });

  it("tampering with any proof element fails verification", () => {
    fc.assert(
      fc.property(leaves, fc.nat(), fc.nat(), (d, seed, which) => {
        fc.pre(d.length > 1);
        const tree = MerkleTree.fromData(d);
        const m = seed % d.length;
        const proof = tree.inclusionProof(m).map((p) => p.slice());
        const target = proof[which % proof.length]!;
        target[0] = target[0]! ^ 1;
        expect(verifyInclusion(hashLeaf(d[m]!), m, d.length, proof, tree.root())).toBe(false);
      }),
    );
  });

  it("matches the Certificate Transparency test vectors", () => {
    const data = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map((h) =>
      Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16)),
    );
    expect(toHex(MerkleTree.fromData([]).root())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(toHex(MerkleTree.fromData(data.slice(0, 1)).root())).toBe("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    expect(toHex(MerkleTree.fromData(data).root())).toBe("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  });

  it("rejects out-of-range indices and sizes", () => {
    const tree = MerkleTree.fromData([new Uint8Array(1), new Uint8Array(2)]);
    expect(() => tree.inclusionProof(2)).toThrow(RangeError);
    expect(() => tree.consistencyProof(0)).toThrow(RangeError);
    expect(() => tree.consistencyProof(3)).toThrow(RangeError);
    expect(() => fromHex("zz")).toThrow(RangeError);
    expect(verifyInclusion(tree.leafHash(0), 5, 2, [], tree.root())).toBe(false);
    expect(verifyConsistency(0, 2, [], EMPTY_ROOT, tree.root())).toBe(false);
  });
});

describe("sha256 (native where the platform has a synchronous one)", () => {
  it("agrees with @noble/hashes on every size", async () => {
    const { sha256: noble } = await import("@noble/hashes/sha2.js");
    const { sha256 } = await import("../../shared/merkle/index.ts");
    for (const size of [0, 1, 64, 65, 127, 128, 129, 1000, 100_000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      expect(Buffer.from(sha256(data)).toString("hex"), `size ${size}`).toBe(Buffer.from(noble(data)).toString("hex"));
    }
  });
});
