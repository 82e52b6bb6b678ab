import { EMPTY_ROOT, hashChildren, hashLeaf } from "./hash.ts";

/**
 * A Merkle tree with RFC 9162's shape, built bottom-up: pairing neighbours level by level and
 * promoting an unpaired last node unchanged gives exactly the tree of MTH's "largest power of
 * two smaller than n" split. Node i of level h then covers leaves [i·2^h, min((i+1)·2^h, n)),
 * so every subtree hash the RFC's proofs need is one array lookup.
 */
export class MerkleTree {
  readonly size: number;
  /** levels[0] = leaf hashes; the last level holds the root alone. */
  readonly #levels: Uint8Array[][];

  private constructor(leafHashes: readonly Uint8Array[]) {
    this.size = leafHashes.length;
    const levels: Uint8Array[][] = [leafHashes.slice()];
    while (levels[levels.length - 1]!.length > 1) {
      const below = levels[levels.length - 1]!;
      const level: Uint8Array[] = [];
      for (let i = 0; i < below.length; i += 2) {
        level.push(i + 1 < below.length ? hashChildren(below[i]!, below[i + 1]!) : below[i]!);
      }
      levels.push(level);
    }
    this.#levels = levels;
  }

  /** From already-hashed leaves (each SHA-256(0x00 ‖ data)). */
  static fromLeafHashes(leafHashes: readonly Uint8Array[]): MerkleTree {
    return new MerkleTree(leafHashes);
  }

  /** From raw leaf data; each entry is hashed with the leaf prefix. */
  static fromData(leaves: readonly Uint8Array[]): MerkleTree {
    return new MerkleTree(leaves.map(hashLeaf));
  }

  root(): Uint8Array {
    if (this.size === 0) return EMPTY_ROOT;
    return this.#levels[this.#levels.length - 1]![0]!;
  }

  leafHash(index: number): Uint8Array {
    this.#checkIndex(index);
    return this.#levels[0]![index]!;
  }

  /** RFC 9162 §2.1.3.1 PATH(m, D[n]): sibling hashes from the leaf up to the root. */
  inclusionProof(index: number): Uint8Array[] {
    this.#checkIndex(index);
    const path: Uint8Array[] = [];
    let position = index;
    for (let h = 0; h < this.#levels.length - 1; h++) {
      const level = this.#levels[h]!;
      const sibling = position ^ 1;
      // A promoted node has no sibling at this level: nothing to add.
      if (sibling < level.length) path.push(level[sibling]!);
      position >>>= 1;
    }
    return path;
  }

  /** RFC 9162 §2.1.4.1 PROOF(m, D[n]): proves the tree of the first `oldSize` leaves is a prefix of this one. */
  consistencyProof(oldSize: number): Uint8Array[] {
    if (!Number.isInteger(oldSize) || oldSize < 1 || oldSize > this.size) {
      throw new RangeError(`old size must be between 1 and ${this.size}`);
    }
    const proof: Uint8Array[] = [];
    this.#subproof(oldSize, 0, this.size, true, proof);
    return proof;
  }

  // SUBPROOF(m, D[start:start+n], b), appending in the RFC's order (deepest first).
  #subproof(m: number, start: number, n: number, complete: boolean, out: Uint8Array[]): void {
    if (m === n) {
      if (!complete) out.push(this.#subtree(start, n));
      return;
    }
    const k = largestPowerOfTwoBelow(n);
    if (m <= k) {
      this.#subproof(m, start, k, complete, out);
      out.push(this.#subtree(start + k, n - k));
    } else {
      this.#subproof(m - k, start + k, n - k, false, out);
      out.push(this.#subtree(start, k));
    }
  }

  // MTH(D[start:start+count]) for the aligned ranges the RFC's recursion produces.
  #subtree(start: number, count: number): Uint8Array {
    let height = 0;
    while (2 ** height < count) height++;
    return this.#levels[height]![start / 2 ** height]!;
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`leaf index must be between 0 and ${this.size - 1}`);
    }
  }
}

/** The k of RFC 9162: the largest power of two strictly smaller than n (n ≥ 2). */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
