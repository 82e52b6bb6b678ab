import { ed25519 } from "@noble/curves/ed25519.js";
import { z } from "zod";
import { EMPTY_ROOT, MerkleTree, sha256, toHex } from "../merkle/index.ts";
import { decodeHex } from "../merkle/hash.ts";
import { canonicalBytes, canonicalJson } from "./canonical.ts";
import { verifyEd25519 } from "./ed25519.ts";
import type { ChainTx } from "./transactions.ts";

/**
 * Blocks of the Lucid chain, version 1.
 *
 * header = { version, chain, height, previousHash, timestamp, epoch, slot, producer, txRoot, txCount }
 *   previousHash  hash of the block at height − 1 (64 zeros for genesis)
 *   timestamp     ms since the Unix epoch, inside its slot
 *   producer      the slot leader's Ed25519 public key (hex)
 *   txRoot        RFC 9162 Merkle root over the canonical JSON of each transaction, in block order
 * hash      = SHA-256(canonical JSON of the header), hex
 * signature = Ed25519(producer key, hash bytes), hex
 */
export const BLOCK_VERSION = 1;
export const ZERO_HASH = "0".repeat(64);

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
export const blockHeader = z
  .object({
    version: z.literal(BLOCK_VERSION),
    chain: z.string().min(1).max(64),
    height: z.number().int().min(0),
    previousHash: hex32,
    timestamp: z.number().int().min(0),
    epoch: z.number().int().min(0),
    slot: z.number().int().min(0),
    producer: z.string().regex(/^([0-9a-f]{64}|genesis)$/),
    txRoot: hex32,
    txCount: z.number().int().min(0),
  })
  .strict();

export type BlockHeader = z.infer<typeof blockHeader>;

export interface SignedHeader {
  header: BlockHeader;
  hash: string;
  /** Empty for genesis, which is fixed by configuration rather than produced. */
  signature: string;
}

export function headerHash(header: BlockHeader): string {
  return toHex(sha256(canonicalBytes(header)));
}

export function txRoot(txs: readonly ChainTx[]): string {
  return txRootOfBodies(txs.map((tx) => canonicalJson(tx)));
}

/** txRoot from the transactions' canonical JSON, for callers that hold it already (mempool rows, validation). */
export function txRootOfBodies(bodies: readonly string[]): string {
  const encoder = new TextEncoder();
  return toHex(bodies.length === 0 ? EMPTY_ROOT : MerkleTree.fromData(bodies.map((body) => encoder.encode(body))).root());
}

export function hexToBytes(hex: string): Uint8Array {
  return decodeHex(hex);
}

export function signHeader(header: BlockHeader, secretKey: Uint8Array): SignedHeader {
  const hash = headerHash(header);
  return { header, hash, signature: toHex(ed25519.sign(hexToBytes(hash), secretKey)) };
}

/**
 * Signatures already found valid, keyed by producer, hash and signature. Ed25519 verification is a
 * pure function of those three, so a remembered success is exact; it lets a verifier with many
 * proofs from one block (a bundle's interim anchors, an explorer, an audit) pay for the curve
 * arithmetic once per block header instead of once per proof. Failures are never remembered.
 */
const VERIFIED_LIMIT = 4096;
const verified = new Set<string>();

/** Checks the producer's signature over the block hash (native Ed25519 where the platform has it; see ed25519.ts). */
export async function verifyHeaderSignature(signed: SignedHeader): Promise<boolean> {
  if (signed.header.producer === "genesis") return false;
  const key = `${signed.header.producer}:${signed.hash}:${signed.signature}`;
  if (verified.has(key)) return true;
  let ok: boolean;
  try {
    ok = await verifyEd25519(hexToBytes(signed.signature), hexToBytes(signed.hash), hexToBytes(signed.header.producer));
  } catch {
    return false;
  }
  if (ok) {
    if (verified.size >= VERIFIED_LIMIT) verified.delete(verified.values().next().value!);
    verified.add(key);
  }
  return ok;
}

export function producerPublicKey(secretKey: Uint8Array): string {
  return toHex(ed25519.getPublicKey(secretKey));
}

/**
 * The producer set fixed at genesis: the genesis block's only transaction. Its canonical JSON is
 * the genesis txRoot's single leaf, so the genesis hash commits to the chain's producers and a
 * verifier holding only that hash can tell a real producer from any other key.
 */
export const producerSet = z
  .object({ type: z.literal("producer-set"), version: z.literal(1), producers: z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1) })
  .strict()
  .refine((set) => set.producers.every((key, i) => i === 0 || set.producers[i - 1]! < key), "producers must be sorted and distinct");
export type ProducerSet = z.infer<typeof producerSet>;

export function producerSetOf(producers: readonly string[]): ProducerSet {
  return { type: "producer-set", version: 1, producers: [...new Set(producers)].sort() };
}

/** The genesis txRoot committing to a producer set. */
export function producerSetRoot(set: ProducerSet): string {
  return txRootOfBodies([canonicalJson(set)]);
}

/**
 * The genesis block is a pure function of the chain's configuration (name, genesis time, producer
 * set): every instance configured alike derives the same one, and changing the set starts a new chain.
 */
export function genesisHeader(chain: string, genesisTime: number, producers: readonly string[]): SignedHeader {
  const header: BlockHeader = {
    version: BLOCK_VERSION,
    chain,
    height: 0,
    previousHash: ZERO_HASH,
    timestamp: genesisTime,
    epoch: 0,
    slot: 0,
    producer: "genesis",
    txRoot: producerSetRoot(producerSetOf(producers)),
    txCount: 1,
  };
  return { header, hash: headerHash(header), signature: "" };
}

/**
 * The genesis of chains created before it committed to the producer set (an empty txRoot). A
 * stored chain built on it keeps it (ChainDO), so its blocks stay linked; its producers are then
 * known only from configuration, and a standalone package check cannot derive them from genesis.
 */
export function legacyGenesisHeader(chain: string, genesisTime: number): SignedHeader {
  const header: BlockHeader = { ...genesisHeader(chain, genesisTime, ["00".repeat(32)]).header, txRoot: toHex(EMPTY_ROOT), txCount: 0 };
  return { header, hash: headerHash(header), signature: "" };
}
