import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { toHex } from "../merkle/index.ts";
import { canonicalJson } from "./canonical.ts";

/**
 * Transactions of the Lucid chain, version 1. Each is a plain object whose canonical JSON
 * (shared/chain/canonical.ts) is the Merkle leaf data of its block and whose SHA-256 is its id.
 * Amounts are decimal strings of integer base units (1 USDT = 1 000 000).
 */
const hex32 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters");
const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, "must be a plain identifier");
const units = z.string().regex(/^\d{1,30}$/, "must be an integer amount in base units");

/** A session's Merkle root over its chunks' ciphertext hashes; interim roots arrive while it records. */
export const anchorTx = z
  .object({
    type: z.literal("anchor"),
    sessionId: id,
    root: hex32,
    chunkCount: z.number().int().min(1).max(0xffffffff),
    owner: id,
    node: id,
    interim: z.boolean(),
  })
  .strict();

const isoTime = z.string().datetime({ offset: true });
const tronAddress = z.string().regex(/^T[1-9A-HJ-NP-Za-km-z]{33}$/, "must be a TRON address");

/** Work credits a node earned in an epoch: the node pools' record (shared/nodes/chain-tx.ts), as is. */
export const workCreditTx = z
  .object({
    type: z.literal("work-credit"),
    version: z.literal(1),
    id: z.string().regex(/^work-credit:[A-Za-z0-9._:-]+:\d+$/),
    nodeId: id,
    pool: id,
    operatorId: id,
    payoutAddress: tronAddress,
    epoch: z.number().int().min(0),
    epochStart: isoTime,
    epochEnd: isoTime,
    pootVersion: z.number().int().min(1),
    operationalSeconds: z.number().int().min(0),
    sessionSeconds: z.number().int().min(0),
    bytesRecorded: units,
    credits: z.number().int().min(0),
    weight: z.number().int().min(0),
  })
  .strict();

/** A node's state change worth proving (registered, suspended, terminated, …), as the pools record it. */
export const nodeEventTx = z
  .object({
    type: z.literal("node-event"),
    version: z.literal(1),
    id: z.string().regex(/^node-event:[A-Za-z0-9._:-]+$/),
    nodeId: id,
    pool: id,
    from: z.string().max(32).nullable(),
    to: z.string().min(1).max(32),
    reason: z.string().max(500),
    at: isoTime,
  })
  .strict();

/** A payout as it was settled on TRON. */
export const payoutTx = z
  .object({
    type: z.literal("payout"),
    payoutId: id,
    recipient: tronAddress,
    amount: units,
    tronTxId: hex32,
  })
  .strict();

export const chainTx = z.discriminatedUnion("type", [anchorTx, workCreditTx, nodeEventTx, payoutTx]);

export type AnchorTx = z.infer<typeof anchorTx>;
export type ChainTx = z.infer<typeof chainTx>;

/** The transaction's canonical JSON and its id (lowercase hex SHA-256 of those bytes), computed once. */
export function encodeTx(tx: ChainTx): { body: string; id: string } {
  const body = canonicalJson(tx);
  return { body, id: toHex(sha256(new TextEncoder().encode(body))) };
}

/** The transaction's id: lowercase hex SHA-256 of its canonical bytes. */
export function txId(tx: ChainTx): string {
  return encodeTx(tx).id;
}
