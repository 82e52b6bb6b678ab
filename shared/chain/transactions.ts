import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { toHex } from "../merkle/index.ts";
import { canonicalBytes } from "./canonical.ts";

/**
 * Transactions of the Lucid chain, version 1. Each is a plain object whose canonical JSON
 * (shared/chain/canonical.ts) is the Merkle leaf data of its block and whose SHA-256 is its id.
 * Amounts are decimal strings of integer base units (1 USDT = 1 000 000).
 */
const hex32 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters");
const id = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, "must be a plain identifier");
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

/** Work credits a node earned in an epoch (proof of operational time). */
export const workCreditTx = z
  .object({
    type: z.literal("work-credit"),
    epoch: z.number().int().min(0),
    nodeId: id,
    credits: units,
    operationalSeconds: z.number().int().min(0),
  })
  .strict();

/** Lifecycle events of nodes worth proving (registration, suspension, termination). */
export const nodeEventTx = z
  .object({
    type: z.literal("node-event"),
    nodeId: id,
    event: z.enum(["registered", "suspended", "resumed", "terminated"]),
    at: z.number().int().min(0),
  })
  .strict();

/** A payout as it was settled on TRON. */
export const payoutTx = z
  .object({
    type: z.literal("payout"),
    payoutId: id,
    recipient: z.string().regex(/^T[1-9A-HJ-NP-Za-km-z]{33}$/, "must be a TRON address"),
    amount: units,
    tronTxId: hex32,
  })
  .strict();

export const chainTx = z.discriminatedUnion("type", [anchorTx, workCreditTx, nodeEventTx, payoutTx]);

export type AnchorTx = z.infer<typeof anchorTx>;
export type ChainTx = z.infer<typeof chainTx>;

/** The transaction's id: lowercase hex SHA-256 of its canonical bytes. */
export function txId(tx: ChainTx): string {
  return toHex(sha256(canonicalBytes(tx)));
}
