import { z } from "zod";
import { fromHex, hashLeaf, MerkleTree, toHex } from "./merkle/index.ts";

/**
 * Session lifecycle and the manifest format, shared by the Worker, the GUI and the agent.
 *
 *   created → recording → processing → stored → anchored → completed
 *   any live state → failed | cancelled
 *
 * `processing` verifies every chunk in the store and writes the manifest; `stored` waits for
 * an anchor on the chain (or goes straight to `completed` when anchoring is disabled).
 */
export const SESSION_STATES = ["created", "recording", "processing", "stored", "anchored", "completed", "failed", "cancelled"] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const SESSION_TRANSITIONS: Record<SessionState, readonly SessionState[]> = {
  created: ["recording", "cancelled", "failed"],
  recording: ["processing", "cancelled", "failed"],
  processing: ["stored", "cancelled", "failed"],
  stored: ["anchored", "completed", "failed"],
  anchored: ["completed", "failed"],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: SessionState, to: SessionState): boolean {
  return SESSION_TRANSITIONS[from].includes(to);
}

export const MANIFEST_VERSION = 1;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const manifestChunkSchema = z.object({
  index: z.number().int().min(0),
  /** SHA-256 of the ciphertext; the Merkle leaf's data is these 32 bytes. */
  sha256: hex64,
  size: z.number().int().min(0),
  nonce: z.string().regex(/^[0-9a-f]{48}$/),
  plainSize: z.number().int().min(0),
  compressedSize: z.number().int().min(0),
  captureStart: z.number().int(),
  captureEnd: z.number().int(),
});
export type ManifestChunk = z.infer<typeof manifestChunkSchema>;

export const anchorSchema = z.object({
  chain: z.string().min(1).max(64),
  blockHeight: z.number().int().min(0),
  blockHash: hex64,
  txId: z.string().min(1).max(128),
  anchoredAt: z.string(),
});
export type Anchor = z.infer<typeof anchorSchema>;

/** The chain's word that a reorg returned a session's final anchor to its mempool (the session waits for it again). */
export const anchorWithdrawalSchema = z.object({
  chain: z.string().min(1).max(64),
  txId: z.string().min(1).max(128),
  withdrawn: z.literal(true).optional(),
});

export const manifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  sessionId: z.string(),
  tree: z.literal("rfc9162-sha256"),
  treeSize: z.number().int().min(1),
  root: hex64,
  chunks: z.array(manifestChunkSchema),
  createdAt: z.string(),
  anchor: anchorSchema.nullable(),
  /**
   * Which node recorded which chunks, in index order (one part unless the session was handed over
   * to another node: an RDP desktop migrated). Absent in manifests written before hand-overs.
   */
  parts: z.array(z.object({ node: z.string(), firstIndex: z.number().int().min(0), since: z.string().nullable() })).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** Leaf hashes of a session's tree: leaf data = the chunk's 32-byte ciphertext SHA-256. */
export function chunkLeafHashes(sha256s: readonly string[]): Uint8Array[] {
  return sha256s.map((sha) => hashLeaf(fromHex(sha)));
}

/** Recomputes a manifest's root from its chunk list; true when it matches and indices are 0..n-1. */
export function verifyManifest(manifest: Manifest): boolean {
  if (manifest.chunks.length !== manifest.treeSize) return false;
  if (manifest.chunks.some((chunk, i) => chunk.index !== i)) return false;
  const tree = MerkleTree.fromLeafHashes(chunkLeafHashes(manifest.chunks.map((c) => c.sha256)));
  return toHex(tree.root()) === manifest.root;
}
