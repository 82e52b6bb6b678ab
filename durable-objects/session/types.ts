import { refuse, type Outcome } from "../../shared/outcome.ts";
import type { InteractionPolicy } from "../../shared/recording/events.ts";
import type { SessionState } from "../../shared/session.ts";
import type { SessionRow } from "./view.ts";

export interface CreateSessionInput {
  id: string;
  ownerId: string;
  nodeId: string;
  title: string;
  tags: string[];
  notes: string;
  rdp: Record<string, number | boolean>;
  interaction: InteractionPolicy;
}

/** One RDP state change as the session's status stream carries it (RdpHostDO → SessionDO). */
export interface RdpStatusUpdate {
  serverId: string;
  hostId: string;
  server: string;
  connection: string | null;
  reason: string | null;
  at: string;
}

export interface ChunkMeta {
  nonce: string;
  plainSize: number;
  compressedSize: number;
  captureStart: number;
  captureEnd: number;
}

export interface ChunkReceiptValue {
  sessionId: string;
  index: number;
  sha256: string;
  size: number;
  receivedAt: number;
}

export type BeginUpload = { kind: "stored"; receipt: ChunkReceiptValue } | { kind: "upload"; uploadId: string; storeKey: string };

export interface InclusionProofValue {
  index: number;
  treeSize: number;
  sha256: string;
  leafHash: string;
  root: string;
  path: string[];
}

export interface ConsistencyProofValue {
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
}

export function receipt(sessionId: string, chunk: { index: number; sha256: string; size: number; receivedAt: number }): ChunkReceiptValue {
  return { sessionId, index: chunk.index, sha256: chunk.sha256, size: chunk.size, receivedAt: chunk.receivedAt };
}

export function stateProblem(row: SessionRow, action: string, expected: SessionState[]): Outcome<never> {
  return refuse("invalid-state", `Cannot ${action} a session that is ${row.state} (needs ${expected.join(" or ")}).`, {
    state: row.state,
  });
}

export function chunkConflict(index: number, storedSha256: string): Outcome<never> {
  return refuse("chunk-conflict", `Chunk ${index} is already stored with a different SHA-256.`, { index, sha256: storedSha256 });
}
