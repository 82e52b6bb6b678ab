import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { toHex } from "../merkle/index.ts";
import { readBytesField } from "../tron/protobuf.ts";
import { blockHeader, headerHash, hexToBytes, type SignedHeader } from "./block.ts";

/**
 * External anchor of the Lucid chain on TRON. Once an epoch, the head at the epoch's end is
 * written as the memo (raw_data.data) of a TRON transaction:
 *   memo = "lucid-anchor:v1:<chain>:<epoch>:<height>:<block hash>"   (ASCII)
 * The txid is SHA-256 of raw_data's protobuf, so the raw bytes prove the memo belongs to that
 * txid offline; that the txid sits in a solidified TRON block is the part only TRON can confirm
 * (the evidence states the block number and confirmations seen when the bundle was made).
 */
export function anchorMemo(chain: string, epoch: number, height: number, hash: string): string {
  return `lucid-anchor:v1:${chain}:${epoch}:${height}:${hash}`;
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);

export const tronAnchorProof = z.object({
  network: z.string(),
  txid: hex32,
  rawDataHex: z.string().regex(/^([0-9a-f]{2})+$/),
  blockNumber: z.number().int().min(0),
  confirmations: z.number().int().min(0),
  solidified: z.boolean(),
  /** Headers after the evidence block up to and including the anchored one (empty when it is the anchored one). */
  headers: z.array(z.object({ header: blockHeader, hash: hex32, signature: z.string() })),
});

export type TronAnchorProof = z.infer<typeof tronAnchorProof>;

/** Checks that `proof` anchors `block` (directly or through its descendants' headers); null when it does, else why not. */
export function checkTronAnchor(block: SignedHeader, proof: TronAnchorProof): string | null {
  let parent = block;
  for (const next of proof.headers) {
    if (headerHash(next.header) !== next.hash) return `header ${next.header.height} does not hash to ${next.hash}`;
    if (next.header.previousHash !== parent.hash || next.header.height !== parent.header.height + 1) {
      return `header ${next.header.height} does not follow block ${parent.header.height}`;
    }
    parent = next;
  }
  const raw = hexToBytes(proof.rawDataHex);
  if (toHex(sha256(raw)) !== proof.txid) return `the TRON transaction bytes do not hash to txid ${proof.txid}`;
  let memo: string;
  try {
    const data = readBytesField(raw, 10);
    if (!data) return "the TRON transaction carries no memo";
    memo = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(data);
  } catch {
    return "the TRON transaction's memo is unreadable";
  }
  const expected = anchorMemo(parent.header.chain, parent.header.epoch, parent.header.height, parent.hash);
  if (memo !== expected) return `the TRON memo is "${memo}", expected "${expected}"`;
  return null;
}
