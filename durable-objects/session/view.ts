import type { InteractionPolicy } from "../../shared/recording/events.ts";
import type { Anchor, ManifestChunk, SessionState } from "../../shared/session.ts";
import type { SessionSummary } from "../session-index/schema.ts";
import type * as schema from "./schema.ts";
import type { IntegrityResult } from "./integrity.ts";

export type SessionRow = typeof schema.session.$inferSelect;
export type ChunkRow = typeof schema.chunks.$inferSelect;
export type EventRow = typeof schema.events.$inferSelect;

/** What a SessionDO tells its callers about a session (epoch-ms times; routes render ISO). */
export interface SessionView {
  id: string;
  ownerId: string;
  nodeId: string;
  title: string;
  tags: string[];
  notes: string;
  rdp: Record<string, number | boolean>;
  /** The interaction policy chosen at creation (immutable). */
  interaction: InteractionPolicy;
  state: SessionState;
  version: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  stoppedAt: number | null;
  completedAt: number | null;
  expiresAt: number;
  chunks: { count: number; contiguous: number; bytes: number };
  treeSize: number | null;
  merkleRoot: string | null;
  anchor: Anchor | null;
  keyShredded: boolean;
  deleted: boolean;
  failure: string | null;
  lastIntegrityCheck: IntegrityResult | null;
  legalHold: { reason: string; by: string; since: number } | null;
}

export interface ChunkStats {
  count: number;
  contiguous: number;
  bytes: number;
}

export function toView(row: SessionRow, stats: ChunkStats): SessionView {
  return {
    id: row.id,
    ownerId: row.ownerId,
    nodeId: row.nodeId,
    title: row.title,
    tags: row.tags,
    notes: row.notes,
    rdp: row.rdp,
    interaction: row.interaction,
    state: row.state,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    startedAt: row.startedAt,
    stoppedAt: row.stoppedAt,
    completedAt: row.completedAt,
    expiresAt: row.expiresAt,
    chunks: stats,
    treeSize: row.treeSize,
    merkleRoot: row.merkleRoot,
    anchor: row.anchor,
    keyShredded: row.shreddedAt !== null,
    deleted: row.deletedAt !== null,
    failure: row.failure,
    lastIntegrityCheck: row.lastIntegrity ?? null,
    legalHold: row.holdReason !== null ? { reason: row.holdReason, by: row.holdBy ?? "", since: row.holdAt ?? 0 } : null,
  };
}

/** The row the session index keeps for listing and search. */
export function toSummary(row: SessionRow): SessionSummary {
  return {
    id: row.id,
    ownerId: row.ownerId,
    nodeId: row.nodeId,
    title: row.title,
    // The index keeps the tags as JSON text for its full-text search.
    tags: JSON.stringify(row.tags),
    notes: row.notes,
    interaction: row.interaction,
    state: row.state,
    shredded: row.shreddedAt !== null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    version: row.version,
  };
}

export function toManifestChunk(row: ChunkRow): ManifestChunk {
  return {
    index: row.index,
    sha256: row.sha256,
    size: row.size,
    nonce: row.nonce,
    plainSize: row.plainSize,
    compressedSize: row.compressedSize,
    captureStart: row.captureStart,
    captureEnd: row.captureEnd,
  };
}
