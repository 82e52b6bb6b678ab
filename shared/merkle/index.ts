/**
 * Merkle trees as in RFC 9162 (Certificate Transparency v2): SHA-256 with 0x00/0x01 domain
 * separation, inclusion and consistency proofs. Sessions build one over their chunks'
 * ciphertext hashes (each leaf's data is the 32-byte SHA-256 of a chunk).
 */
export { EMPTY_ROOT, HASH_BYTES, equalBytes, fromHex, hashChildren, hashLeaf, sha256, toHex } from "./hash.ts";
export { MerkleTree, largestPowerOfTwoBelow } from "./tree.ts";
export { verifyConsistency, verifyInclusion } from "./verify.ts";
