import { z } from "zod";
import { blockHeader, producerSet } from "../chain/block.ts";
import { tronAnchorProof } from "../chain/tron-anchor.ts";
import { anchorTx } from "../chain/transactions.ts";
import { manifestSchema } from "../session.ts";

/**
 * The recording package, `lucid-package/1` (docs/package.md): one ustar archive holding what
 * anyone needs to check a recording offline against the chain's genesis hash, and to play it
 * given the data key. Members, in this order (metadata first, so a reader can check as chunks pass):
 *
 *   lucid-package.json          PackageInfo: format, version, session, the session manifest
 *   chain/genesis.json          the genesis header and the producer set its txRoot commits to
 *   chain/producers.json        the producer-set history from genesis (one entry per set)
 *   chain/headers/NNNNNN.json   signed headers from height 1 up to the highest block the anchors need,
 *                               HEADERS_PER_FILE per file, NNNNNN = the first height in it
 *   anchor/final.json           the final anchor: transaction, inclusion proof, block, TRON anchor
 *   anchor/interim.json         every rolling anchor, each with its proof and block
 *   proofs.json                 each chunk's RFC 9162 inclusion proof in the session tree
 *   log/events.json             the session's event log
 *   log/audit.json              audit entries about the session
 *   keys/                       the directory of the session's key shares
 *   keys/<shareId>.json         one per share of the data key: the `lucid-key-share` envelope as stored
 *                               (shared/recording/key-share.ts), never the plaintext key
 *   verify.html                 the standalone verifier and player (when the server has it built)
 *   chunks/NNNNNN.bin           the encrypted chunks as stored, NNNNNN = the chunk index
 */
export const PACKAGE_FORMAT = "lucid-package";
export const PACKAGE_VERSION = 1;
export const HEADERS_PER_FILE = 1000;

export const PATHS = {
  info: "lucid-package.json",
  genesis: "chain/genesis.json",
  producers: "chain/producers.json",
  headersDir: "chain/headers/",
  finalAnchor: "anchor/final.json",
  interimAnchors: "anchor/interim.json",
  proofs: "proofs.json",
  events: "log/events.json",
  audit: "log/audit.json",
  keysDir: "keys/",
  verifier: "verify.html",
  chunksDir: "chunks/",
} as const;

const pad6 = (n: number) => String(n).padStart(6, "0");
export const headersPath = (firstHeight: number) => `${PATHS.headersDir}${pad6(firstHeight)}.json`;
export const keySharePath = (shareId: string) => `${PATHS.keysDir}${shareId}.json`;
export const chunkPath = (index: number) => `${PATHS.chunksDir}${pad6(index)}.bin`;

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const signature = z.string().regex(/^[0-9a-f]{128}$/);

export const signedHeader = z.object({ header: blockHeader, hash: hex32, signature }).strict();
export const headerPage = z.array(signedHeader);

export const packageInfo = z.object({
  format: z.literal(PACKAGE_FORMAT),
  version: z.literal(PACKAGE_VERSION),
  createdAt: z.string(),
  session: z.object({ id: z.string().min(1), owner: z.string().min(1), node: z.string().min(1), state: z.string() }),
  manifest: manifestSchema,
});
export type PackageInfo = z.infer<typeof packageInfo>;

export const genesisFile = z.object({
  header: blockHeader,
  hash: hex32,
  producerSet,
});
export type GenesisFile = z.infer<typeof genesisFile>;

/** The producer sets in force from genesis on; today a chain has one, fixed at genesis. */
export const producerHistory = z
  .array(z.object({ fromHeight: z.number().int().min(0), source: z.literal("genesis"), producers: z.array(hex32).min(1) }))
  .min(1);
export type ProducerHistory = z.infer<typeof producerHistory>;

const inclusion = z.object({ txIndex: z.number().int().min(0), txCount: z.number().int().min(1), path: z.array(hex32) });

export const finalAnchorFile = z.object({
  tx: anchorTx,
  txId: hex32,
  proof: inclusion,
  block: signedHeader,
  tron: tronAnchorProof.optional(),
});
export type FinalAnchorFile = z.infer<typeof finalAnchorFile>;

export const interimAnchorsFile = z.array(z.object({ tx: anchorTx, txId: hex32, proof: inclusion, block: signedHeader }));

export const chunkProofsFile = z.array(
  z.object({ index: z.number().int().min(0), treeSize: z.number().int().min(1), path: z.array(hex32) }),
);
export type ChunkProofs = z.infer<typeof chunkProofsFile>;
