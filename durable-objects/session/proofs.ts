import { eq } from "drizzle-orm";
import { MerkleTree, toHex } from "../../shared/merkle/index.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { chunkLeafHashes, type Manifest } from "../../shared/session.ts";
import type { Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";
import type { ConsistencyProofValue, InclusionProofValue } from "./types.ts";

/** Reading what a session stored: where a chunk's blob is, the manifest, and Merkle proofs over the chunks. */
export class Proofs {
  constructor(private readonly s: SessionContext) {}

  /** Where a chunk's blob is, for download. */
  chunkLocation(actor: Actor, index: number): Outcome<{ storeKey: string; size: number; sha256: string; damaged: boolean }> {
    const row = this.s.authorize(actor, "download");
    if (!row.ok) return row;
    const chunk = this.s.db.select().from(schema.chunks).where(eq(schema.chunks.index, index)).get();
    if (!chunk) return refuse("not-found", `Chunk ${index} is not stored.`);
    if (row.value.shreddedAt !== null) return refuse("gone", "The session's chunks were deleted.");
    return ok({ storeKey: chunk.storeKey, size: chunk.size, sha256: chunk.sha256, damaged: chunk.damagedAt !== null });
  }

  manifest(actor: Actor): Outcome<Manifest> {
    const row = this.s.authorize(actor, "view");
    if (!row.ok) return row;
    if (row.value.merkleRoot === null) {
      return refuse("invalid-state", "The manifest exists once the session is stored.", { state: row.value.state });
    }
    return ok(this.s.manifest(row.value));
  }

  /** Inclusion proof of chunk `index` in the tree of the first `treeSize` chunks (default: the final tree, or all contiguous chunks while recording). */
  inclusion(actor: Actor, index: number, treeSize?: number): Outcome<InclusionProofValue> {
    const row = this.s.authorize(actor, "view");
    if (!row.ok) return row;
    const leaves = this.s.contiguousSha256s();
    const size = treeSize ?? row.value.treeSize ?? leaves.length;
    if (size > leaves.length || size < 1) return notYet(size, leaves.length);
    if (index >= size) return refuse("not-found", `Chunk ${index} is not in the tree of ${size} chunks.`);
    const tree = MerkleTree.fromLeafHashes(chunkLeafHashes(leaves.slice(0, size)));
    return ok({
      index,
      treeSize: size,
      sha256: leaves[index]!,
      leafHash: toHex(tree.leafHash(index)),
      root: toHex(tree.root()),
      path: tree.inclusionProof(index).map(toHex),
    });
  }

  /** Consistency proof between the interim roots of the first `from` and `to` chunks. */
  consistency(actor: Actor, from: number, to?: number): Outcome<ConsistencyProofValue> {
    const row = this.s.authorize(actor, "view");
    if (!row.ok) return row;
    const leaves = this.s.contiguousSha256s();
    const size = to ?? row.value.treeSize ?? leaves.length;
    if (size > leaves.length) return notYet(size, leaves.length);
    if (from < 1 || from > size) return refuse("bad-request", `from must be between 1 and ${size}.`);
    const hashes = chunkLeafHashes(leaves.slice(0, size));
    const tree = MerkleTree.fromLeafHashes(hashes);
    return ok({
      from,
      to: size,
      fromRoot: toHex(MerkleTree.fromLeafHashes(hashes.slice(0, from)).root()),
      toRoot: toHex(tree.root()),
      proof: tree.consistencyProof(from).map(toHex),
    });
  }
}

function notYet(size: number, contiguous: number): Outcome<never> {
  return refuse("conflict", `A tree of ${size} chunks does not exist yet; ${contiguous} contiguous chunks are stored.`, { contiguous });
}
