import { desc, eq, max } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { Actor } from "./access.ts";
import * as schema from "./schema.ts";
import type { SessionRow } from "./view.ts";

/**
 * Hand-over of a recording from one node to another (an RDP desktop migrated; SessionDO calls
 * these inside its transactions). The session's assignment moves to the new node at once; the
 * chunk index space is split at a boundary:
 *
 * - the old node keeps a bounded grace (`HANDOVER_GRACE_MS`) to upload what it recorded before
 *   the hand-over, and only below `limit` (what was stored or being uploaded at the hand-over +
 *   `HANDOVER_WINDOW` chunks, more than its spool quota holds). It declares its chunk count once
 *   its recorder sealed the last chunk (`seal`), which fixes the boundary; from then on it may
 *   upload only below the boundary, and nothing at all once the grace ends. It may never fetch
 *   the key again, start, stop or view the session.
 * - the new node uploads only from the boundary on; until the boundary is known its uploads are
 *   refused as `handover-pending` (its recorder waits for the boundary before it seals anything).
 * - if the old node never declares (crashed, or hostile), the grace's end fixes the boundary at
 *   the highest stored index + 1: whatever it did not upload by then is lost, as it would be
 *   without a migration, and it can never write into the new node's indices.
 *
 * A hostile old node can therefore withhold its own chunks (leaving the session unable to stop
 * without them, as before) or fill its own range with garbage it sealed under the session key
 * before the hand-over, but it cannot touch the new node's range, extend its range after
 * declaring, or upload after its grace.
 */
export const HANDOVER_GRACE_MS = 10 * 60_000;
/** Chunks the old node may claim beyond what the server had seen at the hand-over (10 MB each: ~1.3 GB). */
export const HANDOVER_WINDOW = 128;

type Db = DrizzleSqliteDODatabase<typeof schema>;
export type HandoverRow = typeof schema.handovers.$inferSelect;

export interface HandoverView {
  fromNode: string;
  toNode: string;
  at: number;
  graceUntil: number;
  /** The new node's first chunk index; null while the old node may still declare its count. */
  firstIndex: number | null;
  settledBy: "node" | "grace" | null;
}

export const toHandoverView = (h: HandoverRow): HandoverView => ({
  fromNode: h.fromNode,
  toNode: h.toNode,
  at: h.at,
  graceUntil: h.graceUntil,
  firstIndex: h.boundary,
  settledBy: h.settledBy,
});

export function latestHandover(db: Db): HandoverRow | undefined {
  return db.select().from(schema.handovers).orderBy(desc(schema.handovers.seq)).limit(1).get();
}

export function allHandovers(db: Db): HandoverRow[] {
  return db.select().from(schema.handovers).orderBy(schema.handovers.seq).all();
}

/** Highest chunk index stored or being uploaded, or -1. */
function highestClaimed(db: Db): number {
  const stored =
    db
      .select({ m: max(schema.chunks.index) })
      .from(schema.chunks)
      .get()?.m ?? -1;
  const uploading =
    db
      .select({ m: max(schema.uploads.index) })
      .from(schema.uploads)
      .get()?.m ?? -1;
  return Math.max(stored, uploading);
}

function highestStored(db: Db): number {
  return (
    db
      .select({ m: max(schema.chunks.index) })
      .from(schema.chunks)
      .get()?.m ?? -1
  );
}

/**
 * The latest hand-over, settled by its grace if that ended without a declaration (persisted, so
 * every later reader sees the same boundary). Call inside a transaction.
 */
export function settledHandover(db: Db, now: number): HandoverRow | undefined {
  const h = latestHandover(db);
  if (!h || h.boundary !== null || now < h.graceUntil) return h;
  const boundary = highestStored(db) + 1;
  db.update(schema.handovers).set({ boundary, settledBy: "grace", settledAt: now }).where(eqSeq(h.seq)).run();
  return { ...h, boundary, settledBy: "grace", settledAt: now };
}

const eqSeq = (seq: number) => eq(schema.handovers.seq, seq);

/** Checks a hand-over from `fromNode` to `toNode` may start now. */
export function mayHandOver(db: Db, row: SessionRow, fromNode: string, toNode: string, now: number): Outcome<void> {
  if (row.state !== "created" && row.state !== "recording") {
    return refuse("invalid-state", `The session is ${row.state}; only created or recording sessions move.`, { state: row.state });
  }
  if (row.nodeId !== fromNode)
    return refuse("conflict", `The session is assigned to ${row.nodeId}, not ${fromNode}.`, { nodeId: row.nodeId });
  if (fromNode === toNode) return refuse("conflict", "The session is already assigned to that node.");
  const pending = settledHandover(db, now);
  if (pending && pending.boundary === null) {
    return refuse(
      "handover-pending",
      `The previous hand-over waits for ${pending.fromNode} to declare its chunks (at most until ${new Date(pending.graceUntil).toISOString()}).`,
      {
        graceUntil: new Date(pending.graceUntil).toISOString(),
      },
    );
  }
  return ok(undefined);
}

/** Records the hand-over (the caller moves the assignment and writes the event). Call inside a transaction. */
export function recordHandover(db: Db, fromNode: string, toNode: string, now: number): HandoverRow {
  const limit = highestClaimed(db) + 1 + HANDOVER_WINDOW;
  return db
    .insert(schema.handovers)
    .values({ fromNode, toNode, at: now, graceUntil: now + HANDOVER_GRACE_MS, limit, boundary: null, settledBy: null, settledAt: null })
    .returning()
    .get();
}

/**
 * Whether a node may upload chunk `index` (beginUpload and again at commit). Users never upload;
 * the assigned node only from the latest boundary on; the previous node only within its grace
 * and range. Every other node is refused. Call inside a transaction.
 */
export function uploadVerdict(db: Db, row: SessionRow, actor: Actor, index: number, now: number): Outcome<void> | null {
  if (actor.kind !== "node") return null; // the ordinary rules answer
  const h = settledHandover(db, now);
  if (!h) return null;
  if (actor.nodeId === row.nodeId) {
    if (h.boundary === null) {
      return refuse("handover-pending", `The session was handed over from ${h.fromNode}; its first chunk index here is not known yet.`, {
        retryAfterSeconds: 2,
      });
    }
    if (index < h.boundary)
      return refuse("forbidden", `Chunks below ${h.boundary} were recorded before the hand-over by ${h.fromNode}.`, {
        firstIndex: h.boundary,
      });
    return null;
  }
  if (actor.nodeId !== h.fromNode) return null; // not assigned: the ordinary rules refuse it
  if (now >= h.graceUntil)
    return refuse("forbidden", `This node handed the session over; its grace ended at ${new Date(h.graceUntil).toISOString()}.`);
  const ceiling = h.boundary ?? h.limit;
  if (index >= ceiling)
    return refuse("forbidden", `This node handed the session over; it may upload only chunks below ${ceiling}.`, { ceiling });
  return ok(undefined);
}

/**
 * The old node declares how many chunks it recorded (its spool's next index once its recorder
 * sealed the last one): the boundary. At least every index it already stored, at most its limit;
 * repeating the same count is fine, changing it is not.
 */
export function sealHandover(db: Db, actor: Actor, chunkCount: number, now: number): Outcome<HandoverRow> {
  const h = settledHandover(db, now);
  if (!h || actor.kind !== "node" || actor.nodeId !== h.fromNode)
    return refuse("forbidden", "Only the node that handed the session over declares its chunks.");
  if (now >= h.graceUntil)
    return refuse("forbidden", `This node handed the session over; its grace ended at ${new Date(h.graceUntil).toISOString()}.`);
  if (h.boundary !== null) {
    if (h.settledBy === "node" && h.boundary === chunkCount) return ok(h);
    return refuse("conflict", `The hand-over is settled at chunk ${h.boundary} (${h.settledBy}).`, { firstIndex: h.boundary });
  }
  const floor = highestStored(db) + 1;
  if (chunkCount < floor)
    return refuse("conflict", `Chunks up to index ${floor - 1} are stored; the count cannot be ${chunkCount}.`, {
      highestIndex: floor - 1,
    });
  if (chunkCount > h.limit) return refuse("conflict", `At most ${h.limit} chunks may be declared.`, { limit: h.limit });
  db.update(schema.handovers).set({ boundary: chunkCount, settledBy: "node", settledAt: now }).where(eqSeq(h.seq)).run();
  return ok({ ...h, boundary: chunkCount, settledBy: "node", settledAt: now });
}

/** The node that may ask about the hand-over: the assigned node or the one it came from (within its grace). */
export function nodeMayAsk(db: Db, row: SessionRow, nodeId: string, now: number): boolean {
  if (nodeId === row.nodeId) return true;
  const h = latestHandover(db);
  return !!h && h.fromNode === nodeId && now < h.graceUntil;
}

export interface RecordingPart {
  node: string;
  /** First chunk index this node recorded. */
  firstIndex: number;
  /** When the session was handed to this node (null for the first part: from creation). */
  since: string | null;
}

/** Which node recorded which chunk range (the manifest's `parts`); one part without hand-overs. */
export function recordingParts(db: Db, row: SessionRow): RecordingPart[] {
  const list = allHandovers(db);
  if (!list.length) return [{ node: row.nodeId, firstIndex: 0, since: null }];
  const parts: RecordingPart[] = [{ node: list[0]!.fromNode, firstIndex: 0, since: null }];
  for (const h of list)
    parts.push({ node: h.toNode, firstIndex: h.boundary ?? highestStored(db) + 1, since: new Date(h.at).toISOString() });
  return parts;
}
