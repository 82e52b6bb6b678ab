import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "./merkle/index.ts";
import { canonicalJson, type Canonical } from "./chain/canonical.ts";

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
