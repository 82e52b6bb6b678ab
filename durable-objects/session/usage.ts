import { and, asc, eq, gte, lt, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { allHandovers } from "./handover.ts";
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
  // A session handed over between nodes (a migrated desktop): each node is credited for its own parts only.
  const parts = partsOf(db, row.nodeId, nodeId);
  if (!parts.length) return { ...empty, assigned: false, finished: true };
  if (row.startedAt === null) return { ...empty, assigned: row.nodeId === nodeId, finished };
  const left = db
    .select({ at: schema.events.at })
    .from(schema.events)
    .where(and(eq(schema.events.kind, "transition"), eq(schema.events.fromState, "recording")))
    .orderBy(asc(schema.events.seq))
    .get();
  const end = left?.at ?? (row.state === "recording" ? nowMs : (row.stoppedAt ?? row.updatedAt));
  let n = 0;
  let total = 0;
  for (const part of parts) {
    if (part.firstIndex === Infinity) continue; // its first index is not known yet: nothing of it is stored
    const bytes = db
      .select({ n: sql<number>`count(*)`, bytes: sql<number>`coalesce(sum(${schema.chunks.size}), 0)` })
      .from(schema.chunks)
      .where(
        and(
          gte(schema.chunks.receivedAt, fromMs),
          lt(schema.chunks.receivedAt, toMs),
          gte(schema.chunks.index, part.firstIndex),
          lt(schema.chunks.index, Math.min(part.endIndex, Number.MAX_SAFE_INTEGER)),
        ),
      )
      .get();
    n += Number(bytes?.n ?? 0);
    total += Number(bytes?.bytes ?? 0);
  }
  // Its recording interval: from its first part's start to its last part's end (the envelope, if it had the session twice).
  const start = Math.max(row.startedAt, parts[0]!.since ?? row.startedAt);
  const until = Math.min(end, parts.at(-1)!.until ?? end);
  const current = row.nodeId === nodeId;
  return {
    sessionId: row.id,
    assigned: true,
    recording: { start, end: Math.max(start, until) },
    bytesStored: total,
    chunksStored: n,
    // A node that handed the session over is done with it once its grace ended (no more uploads).
    finished: finished || (!current && nowMs >= parts.at(-1)!.graceUntil),
  };
}

interface Part {
  since: number | null;
  until: number | null;
  firstIndex: number;
  endIndex: number;
  graceUntil: number;
}

/** The parts of the recording `nodeId` had: time span and chunk index range (see handover.ts). */
function partsOf(db: Db, assigned: string, nodeId: string): Part[] {
  const list = allHandovers(db);
  if (!list.length)
    return assigned === nodeId ? [{ since: null, until: null, firstIndex: 0, endIndex: Infinity, graceUntil: Infinity }] : [];
  const parts: (Part & { node: string })[] = [];
  let since: number | null = null;
  let firstIndex = 0;
  let node = list[0]!.fromNode;
  for (const h of list) {
    const boundary = h.boundary ?? h.limit;
    parts.push({ node, since, until: h.at, firstIndex, endIndex: boundary, graceUntil: h.graceUntil });
    node = h.toNode;
    since = h.at;
    firstIndex = h.boundary ?? Infinity;
  }
  parts.push({ node, since, until: null, firstIndex, endIndex: Infinity, graceUntil: Infinity });
  return parts.filter((p) => p.node === nodeId);
}
