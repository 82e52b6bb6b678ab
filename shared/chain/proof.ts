import { MerkleTree, fromHex, hashLeaf, toHex, verifyInclusion } from "../merkle/index.ts";
import { canonicalBytes } from "./canonical.ts";
import type { ChainTx } from "./transactions.ts";

/** Inclusion of a transaction in its block's txRoot (RFC 9162 audit path, hex). */
export interface TxInclusionProof {
  txIndex: number;
  txCount: number;
  path: string[];
}

export function txInclusionProof(txs: readonly ChainTx[], txIndex: number): TxInclusionProof {
  const tree = MerkleTree.fromData(txs.map((tx) => canonicalBytes(tx)));
  return { txIndex, txCount: txs.length, path: tree.inclusionProof(txIndex).map(toHex) };
}

/** Every transaction's inclusion proof from one tree (txInclusionProof per index rebuilds the tree each time). */
export function txInclusionProofs(txs: readonly ChainTx[]): TxInclusionProof[] {
  const tree = MerkleTree.fromData(txs.map((tx) => canonicalBytes(tx)));
  return txs.map((_, txIndex) => ({ txIndex, txCount: txs.length, path: tree.inclusionProof(txIndex).map(toHex) }));
}

export function verifyTxInclusion(tx: ChainTx, proof: TxInclusionProof, txRootHex: string): boolean {
  try {
    return verifyInclusion(hashLeaf(canonicalBytes(tx)), proof.txIndex, proof.txCount, proof.path.map(fromHex), fromHex(txRootHex));
  } catch {
    return false;
  }
}
