import { and, asc, desc, eq, gte, isNull, lte, or, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Config } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { formatUnits } from "../../shared/money.ts";
import { workCreditTxId, type WorkCreditTx } from "../../shared/nodes/chain-tx.ts";
import {
  computePoot,
  epochWindow,
  POOT_VERSION,
  reportDisagreement,
  type EpochWindow,
  type ObservedWork,
} from "../../shared/nodes/poot.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { queuePayoutIfDue } from "./payouts.ts";
import * as schema from "./schema.ts";
import type { NodeRow } from "./views.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

/**
 * Closing an epoch for one node: what the server observed (heartbeats it accepted, sessions it
 * placed on the node and saw recording, chunk bytes it stored) → PoOT → either accrued (balance,
 * work-credit transaction, leader weight) or held for an admin's review when the node's own
 * report disagrees with the observation beyond NODE_REPORT_TOLERANCE_PERCENT.
 */
type Db = DrizzleSqliteDODatabase<typeof schema>;
const CREATION_GRACE_MS = 10 * 60_000;
const { nodes, heartbeats, nodeEpochs, nodeSessions, chainOutbox } = schema;
export type EpochRow = typeof nodeEpochs.$inferSelect;

/**
 * Asks every session placed on the node that may have recorded in the window (pull, at close):
 * the SessionDO is the single writer of its transitions and chunks, so it is asked rather than
 * told, and nothing is lost if a report would have failed. Throws when a session cannot be
 * reached: the epoch then stays open and the alarm tries again.
 */
export async function observeNode(env: Env, db: Db, nodeId: string, window: EpochWindow, nowMs: number): Promise<ObservedWork> {
  const placed = db
    .select()
    .from(nodeSessions)
    .where(
      and(
        eq(nodeSessions.nodeId, nodeId),
        lte(nodeSessions.assignedAt, window.endMs),
        or(isNull(nodeSessions.finishedAt), gte(nodeSessions.finishedAt, window.startMs)),
      ),
    )
    .orderBy(asc(nodeSessions.assignedAt))
    .all();
  const observed: { start: number; end: number }[] = [];
  let bytesStored = 0;
  for (const { sessionId, assignedAt } of placed) {
    const usage = await objectNamed(env, "SESSIONS", sessionId).usage(nodeId, window.startMs, window.endMs);
    if (usage === null || !usage.assigned) {
      // Never created (its creation failed after the assignment), or another node's: nothing to pay,
      // and not worth asking again; a session still being created gets a grace period.
      if (usage !== null || assignedAt < nowMs - CREATION_GRACE_MS) {
        db.update(nodeSessions).set({ finishedAt: nowMs }).where(eq(nodeSessions.sessionId, sessionId)).run();
      }
      continue;
    }
    bytesStored += usage.bytesStored;
    if (usage.recording) observed.push({ start: usage.recording.start, end: Math.min(usage.recording.end, window.endMs) });
    if (usage.finished) {
      const finishedAt = usage.recording?.end ?? nowMs;
      db.update(nodeSessions).set({ finishedAt }).where(eq(nodeSessions.sessionId, sessionId)).run();
    }
  }
  return { recordings: observed, bytesStored };
}

/** Nodes with beats around the window and no closed row for the epoch yet: only they are observed. */
export function nodesToClose(db: Db, epoch: number, window: EpochWindow): NodeRow[] {
  const margin = 2 * window.intervalMs;
  const beating = new Set(
    db
      .selectDistinct({ nodeId: heartbeats.nodeId })
      .from(heartbeats)
      .where(and(gte(heartbeats.at, window.startMs - margin), lte(heartbeats.at, window.endMs + margin)))
      .all()
      .map((r) => r.nodeId),
  );
  const closed = new Set(
    db
      .select({ nodeId: nodeEpochs.nodeId })
      .from(nodeEpochs)
      .where(eq(nodeEpochs.epoch, epoch))
      .all()
      .map((r) => r.nodeId),
  );
  return db
    .select()
    .from(nodes)
    .all()
    .filter((node) => beating.has(node.id) && !closed.has(node.id));
}

/**
 * Call inside a transaction, once per (node, epoch): records the epoch, then accrues it or holds it.
 * Null when the epoch is already closed for the node (a concurrent close won) or it has no beats.
 */
export function settleEpoch(
  db: Db,
  node: NodeRow,
  epoch: number,
  window: EpochWindow,
  observed: ObservedWork,
  config: Config,
  nowMs: number,
): EpochRow | null {
  if (
    db
      .select()
      .from(nodeEpochs)
      .where(and(eq(nodeEpochs.nodeId, node.id), eq(nodeEpochs.epoch, epoch)))
      .get()
  )
    return null;
  const margin = 2 * window.intervalMs;
  const beats = db
    .select({ at: heartbeats.at, sessionsHosted: heartbeats.sessionsHosted, bytesRecorded: heartbeats.bytesRecorded })
    .from(heartbeats)
    .where(and(eq(heartbeats.nodeId, node.id), gte(heartbeats.at, window.startMs - margin), lte(heartbeats.at, window.endMs + margin)))
    .all();
  if (beats.length === 0) return null;
  const poot = computePoot(beats, window, observed);
  const disagreements = reportDisagreement(poot, window.intervalMs, config.NODE_REPORT_TOLERANCE_PERCENT);
  const row = db
    .insert(nodeEpochs)
    .values({
      nodeId: node.id,
      epoch,
      operationalSeconds: poot.operationalSeconds,
      sessionSeconds: poot.sessionSeconds,
      bytesRecorded: poot.bytesRecorded,
      credits: poot.credits,
      weight: poot.weight,
      units: poot.credits * config.CREDIT_USDT_UNITS,
      status: disagreements.length > 0 ? "held" : "accrued",
      reportedSessionSeconds: poot.reported.sessionSeconds,
      reportedBytes: poot.reported.bytesRecorded,
    })
    .returning()
    .get();
  if (row.status === "accrued") accrueEpoch(db, node, row, window, config, nowMs);
  return row;
}

/** Call inside a transaction: the epoch's credits join the balance and the chain's outbox (same figures, one source). */
export function accrueEpoch(db: Db, node: NodeRow, row: EpochRow, window: EpochWindow, config: Config, nowMs: number): void {
  db.update(nodes)
    .set({
      operationalSecondsTotal: sql`${nodes.operationalSecondsTotal} + ${row.operationalSeconds}`,
      creditsTotal: sql`${nodes.creditsTotal} + ${row.credits}`,
      accruedCredits: sql`${nodes.accruedCredits} + ${row.credits}`,
      accruedUnits: sql`${nodes.accruedUnits} + ${row.units}`,
    })
    .where(eq(nodes.id, node.id))
    .run();
  const tx: WorkCreditTx = {
    type: "work-credit",
    version: 1,
    id: workCreditTxId(node.id, row.epoch),
    nodeId: node.id,
    pool: node.pool,
    operatorId: node.operatorId,
    payoutAddress: node.payoutAddress,
    epoch: row.epoch,
    epochStart: new Date(window.startMs).toISOString(),
    epochEnd: new Date(window.endMs).toISOString(),
    pootVersion: POOT_VERSION,
    operationalSeconds: row.operationalSeconds,
    sessionSeconds: row.sessionSeconds,
    bytesRecorded: String(row.bytesRecorded),
    credits: row.credits,
    weight: row.weight,
  };
  db.insert(chainOutbox).values({ id: tx.id, payload: tx, createdAt: nowMs }).onConflictDoNothing().run();
  queuePayoutIfDue(db, node.id, config.AUTO_PAYOUT_THRESHOLD, nowMs);
}

/** Alert keys allow [A-Za-z0-9._:/-]. */
export function heldEpochAlertKey(nodeId: string, epoch: number): string {
  return `poot:${nodeId.replace(/[^A-Za-z0-9.:/-]/g, "-")}:${epoch}`;
}

/** Raises the admin alert of every held epoch not alerted yet; a failure is retried by the next alarm. */
export async function alertHeldEpochs(env: Env, db: Db, unitsPerCredit: bigint): Promise<number> {
  const pending = db
    .select()
    .from(nodeEpochs)
    .where(and(eq(nodeEpochs.status, "held"), isNull(nodeEpochs.alertedAt)))
    .limit(50)
    .all();
  let raised = 0;
  for (const row of pending) {
    await singleton(env, "ADMIN").raiseAlert({
      key: heldEpochAlertKey(row.nodeId, row.epoch),
      severity: "warning",
      source: "node-pool",
      title: `Node credits held for review: ${row.nodeId}, epoch ${row.epoch}`,
      detail:
        `The node reported ${row.reportedSessionSeconds} session-seconds and ${row.reportedBytes} bytes; the server observed ` +
        `${row.sessionSeconds} session-seconds and ${row.bytesRecorded} bytes. ${row.credits} credits ` +
        `(${formatUnits(BigInt(row.credits) * unitsPerCredit)} USDT) wait for an admin's decision ` +
        `(POST /api/v1/nodes/${row.nodeId}/epochs/${row.epoch}/review).`,
    });
    db.update(nodeEpochs)
      .set({ alertedAt: Date.now() })
      .where(and(eq(nodeEpochs.nodeId, row.nodeId), eq(nodeEpochs.epoch, row.epoch)))
      .run();
    raised++;
  }
  return raised;
}

/** Held epochs of the pool (all nodes), newest first. */
export function heldEpochRows(db: Db, limit: number): EpochRow[] {
  return db.select().from(nodeEpochs).where(eq(nodeEpochs.status, "held")).orderBy(desc(nodeEpochs.epoch)).limit(limit).all();
}

/**
 * Call inside a transaction: an admin's decision on a held epoch. `release` accrues it as observed
 * (never as reported), `reject` drops it. Null when the epoch does not exist; the row otherwise.
 */
export function reviewHeldEpoch(
  db: Db,
  node: NodeRow,
  epoch: number,
  decision: "release" | "reject",
  actor: string,
  config: Config,
  nowMs: number,
): Outcome<EpochRow> {
  const where = and(eq(nodeEpochs.nodeId, node.id), eq(nodeEpochs.epoch, epoch));
  const row = db.select().from(nodeEpochs).where(where).get();
  if (!row) return refuse("not-found", `Node ${node.id} has no closed epoch ${epoch}.`);
  if (row.status !== "held") return refuse("conflict", `Epoch ${epoch} is ${row.status}, not held.`, { status: row.status });
  const status = decision === "release" ? "released" : "rejected";
  db.update(nodeEpochs).set({ status, reviewedBy: actor, reviewedAt: nowMs }).where(where).run();
  if (decision === "release")
    accrueEpoch(db, node, row, epochWindow(epoch, config.EPOCH_SECONDS, config.HEARTBEAT_INTERVAL_SECONDS), config, nowMs);
  return ok(db.select().from(nodeEpochs).where(where).get()!);
}
