import { and, asc, eq, gte, lt, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema.ts";

/**
 * What this session saw of its node's work in [fromMs, toMs), from its own records only: the
 * recording interval (its transition into `recording` and the one out of it) and the ciphertext
 * bytes of the chunks it committed in that window. The node pool pulls this when it closes an
 * epoch (NodePoolDO.closeEpoch), so credits never rest on the node's own report.
 */
export interface SessionUsage {
  sessionId: string;
  /** False when the session is not assigned to the asking node (it then counts nothing). */
  assigned: boolean;
  recording: { start: number; end: number } | null;
  bytesStored: number;
  chunksStored: number;
  /** True once the session left `recording` (or never will): later epochs need not ask again. */
  finished: boolean;
}

type Db = DrizzleSqliteDODatabase<typeof schema>;

export function usageOf(db: Db, nodeId: string, fromMs: number, toMs: number, nowMs: number): SessionUsage | null {
  const row = db.select().from(schema.session).get();
  if (!row) return null;
  const empty = { sessionId: row.id, recording: null, bytesStored: 0, chunksStored: 0 };
  const finished = !["created", "recording"].includes(row.state);
  if (row.nodeId !== nodeId) return { ...empty, assigned: false, finished: true };
  if (row.startedAt === null) return { ...empty, assigned: true, finished };
  const left = db
    .select({ at: schema.events.at })
    .from(schema.events)
    .where(and(eq(schema.events.kind, "transition"), eq(schema.events.fromState, "recording")))
    .orderBy(asc(schema.events.seq))
    .get();
  const end = left?.at ?? (row.state === "recording" ? nowMs : (row.stoppedAt ?? row.updatedAt));
  const bytes = db
    .select({ n: sql<number>`count(*)`, bytes: sql<number>`coalesce(sum(${schema.chunks.size}), 0)` })
    .from(schema.chunks)
    .where(and(gte(schema.chunks.receivedAt, fromMs), lt(schema.chunks.receivedAt, toMs)))
    .get();
  return {
    sessionId: row.id,
    assigned: true,
    recording: { start: row.startedAt, end: Math.max(row.startedAt, end) },
    bytesStored: Number(bytes?.bytes ?? 0),
    chunksStored: Number(bytes?.n ?? 0),
    finished,
  };
}
