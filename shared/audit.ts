import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "./merkle/index.ts";
import { canonicalJson, type Canonical } from "./chain/canonical.ts";
import { headerHash, verifyHeaderSignature, type SignedHeader } from "./chain/block.ts";
import { verifyTxInclusion, type TxInclusionProof } from "./chain/proof.ts";
import type { ChainTx } from "./chain/transactions.ts";

/**
 * The audit log's hash chain, version 1 — pure code, so an exported log can be checked offline.
 *
 * Each event's hash is lowercase hex SHA-256 over the UTF-8 bytes of the canonical JSON
 * (shared/chain/canonical.ts: RFC 8785 subset, sorted keys, no whitespace, safe integers only) of
 *
 *   { "v": 1, "id", "at", "action", "outcome", "actorId", "targetId", "ip", "requestId",
 *     "details", "before", "after", "prevHash" }
 *
 * where absent optional values are `null`, `at` is Unix milliseconds and `prevHash` is the
 * previous event's hash (the first event's is 64 zeros, AUDIT_GENESIS_HASH). Changing, removing
 * or reordering any event breaks every later link; the head (last hash) is anchored on the
 * Lucid chain, so rewriting the whole tail is detectable too.
 */
export const AUDIT_HASH_VERSION = 1;
export const AUDIT_GENESIS_HASH = "0".repeat(64);

export interface HashedAuditFields {
  id: number;
  at: number;
  action: string;
  outcome: "success" | "failure";
  actorId: string | null;
  targetId: string | null;
  ip: string | null;
  requestId: string | null;
  details: Canonical;
  before: Canonical;
  after: Canonical;
}

export function auditCanonicalText(event: HashedAuditFields, prevHash: string): string {
  return canonicalJson({
    v: AUDIT_HASH_VERSION,
    id: event.id,
    at: event.at,
    action: event.action,
    outcome: event.outcome,
    actorId: event.actorId,
    targetId: event.targetId,
    ip: event.ip,
    requestId: event.requestId,
    details: event.details,
    before: event.before,
    after: event.after,
    prevHash,
  });
}

export function auditEventHash(event: HashedAuditFields, prevHash: string): string {
  return toHex(sha256(new TextEncoder().encode(auditCanonicalText(event, prevHash))));
}

export type AuditChainBreak = { id: number; reason: "prev-hash-mismatch" | "hash-mismatch" | "id-gap" | "not-canonical" };

/**
 * Walks events in id order from `startPrev` (the hash before the first one): the first event
 * whose link or content does not match, or null when the whole run verifies.
 */
export function findAuditChainBreak(
  events: readonly (HashedAuditFields & { prevHash: string; hash: string })[],
  startPrev: string,
  startId?: number,
): AuditChainBreak | null {
  let prev = startPrev;
  let expectedId = startId;
  for (const event of events) {
    if (expectedId !== undefined && event.id !== expectedId) return { id: event.id, reason: "id-gap" };
    if (event.prevHash !== prev) return { id: event.id, reason: "prev-hash-mismatch" };
    let hash: string;
    try {
      hash = auditEventHash(event, prev);
    } catch {
      return { id: event.id, reason: "not-canonical" };
    }
    if (hash !== event.hash) return { id: event.id, reason: "hash-mismatch" };
    prev = event.hash;
    expectedId = event.id + 1;
  }
  return null;
}

/**
 * Makes a JSON value canonical-safe: numbers that are not safe integers become decimal strings
 * (the canonical encoding refuses floats), undefined members are dropped.
 */
export function toCanonicalValue(value: unknown, depth = 0): Canonical {
  if (depth > 16) return "[too deep]";
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isSafeInteger(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "object": {
      if (Array.isArray(value)) return value.map((v) => toCanonicalValue(v, depth + 1));
      const out: Record<string, Canonical> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v !== undefined) out[k] = toCanonicalValue(v, depth + 1);
      }
      return out;
    }
    default:
      return String(value);
  }
}

// ---- export bundles ----------------------------------------------------------------------------

export const AUDIT_EXPORT_FORMAT = "lucid-audit-export" as const;

/** An event as exported: `before`/`after` are JSON text (null when absent), `at` in Unix ms. */
export interface ExportedAuditEvent extends Omit<HashedAuditFields, "before" | "after"> {
  before: string | null;
  after: string | null;
  prevHash: string;
  hash: string;
}

export interface ExportedAuditAnchor {
  eventId: number;
  head: string;
  txId: string;
  evidence: { tx: ChainTx; txId: string; proof: TxInclusionProof; block: SignedHeader } | null;
}

export interface AuditExportBundle {
  format: typeof AUDIT_EXPORT_FORMAT;
  hashVersion: number;
  prevHash: string;
  events: ExportedAuditEvent[];
  anchors: ExportedAuditAnchor[];
}

/**
 * Checks an export offline: the hash chain across its events, and each anchor whose event is in
 * the bundle — the anchored head equals that event's hash, the chain transaction carries it,
 * the transaction is in its block's txRoot, and the block header is signed (by a trusted
 * producer when `trustedProducers` is given). Returns the first failure, or null.
 */
export async function verifyAuditExport(bundle: AuditExportBundle, trustedProducers?: readonly string[]): Promise<string | null> {
  const hashed = bundle.events.map((e) => ({
    ...e,
    before: e.before === null ? null : (JSON.parse(e.before) as Canonical),
    after: e.after === null ? null : (JSON.parse(e.after) as Canonical),
  }));
  const broken = findAuditChainBreak(hashed, bundle.prevHash, bundle.events[0]?.id);
  if (broken) return `event ${broken.id}: ${broken.reason}`;
  const byId = new Map(bundle.events.map((e) => [e.id, e]));
  for (const anchor of bundle.anchors) {
    const event = byId.get(anchor.eventId);
    if (event && event.hash !== anchor.head) return `anchor ${anchor.eventId}: head differs from the event's hash`;
    if (!anchor.evidence) continue;
    const { tx, proof, block } = anchor.evidence;
    if (tx.type !== "anchor" || tx.root !== anchor.head || tx.chunkCount !== anchor.eventId)
      return `anchor ${anchor.eventId}: the chain transaction does not carry this head`;
    if (!verifyTxInclusion(tx, proof, block.header.txRoot))
      return `anchor ${anchor.eventId}: the inclusion proof does not match the block's txRoot`;
    if (headerHash(block.header) !== block.hash || !(await verifyHeaderSignature(block)))
      return `anchor ${anchor.eventId}: the block header's hash or signature is wrong`;
    if (trustedProducers && !trustedProducers.includes(block.header.producer))
      return `anchor ${anchor.eventId}: the block's producer is not trusted`;
  }
  return null;
}
