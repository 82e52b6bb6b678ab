import { formatUnits } from "../../shared/money.ts";
import type { NodeState } from "../../shared/nodes/states.ts";
import type { nodeEpochs, nodes, payoutOutbox } from "./schema.ts";

/** JSON-safe views of the pool's rows: times as ISO strings, money as decimal strings. */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export type NodeRow = typeof nodes.$inferSelect;

export function nodeView(row: NodeRow) {
  return {
    id: row.id,
    pool: row.pool,
    operatorId: row.operatorId,
    publicKey: row.publicKey,
    payoutAddress: row.payoutAddress,
    payoutAddressUsableAt: iso(row.payoutAddressUsableAt),
    resources: { cpuCores: row.cpuCores, memoryMb: row.memoryMb, diskGb: row.diskGb, bandwidthMbps: row.bandwidthMbps },
    state: row.state as NodeState,
    stateChangedAt: iso(row.stateChangedAt)!,
    registeredAt: iso(row.registeredAt)!,
    lastHeartbeatAt: iso(row.lastHeartbeatAt),
    lastSeq: row.lastSeq,
    lastReport: row.lastReport,
    operationalSeconds: row.operationalSecondsTotal,
    credits: row.creditsTotal,
    accrued: formatUnits(BigInt(row.accruedUnits)),
    requested: formatUnits(BigInt(row.requestedUnits)),
  };
}
export type NodeView = ReturnType<typeof nodeView>;

export function epochView(row: typeof nodeEpochs.$inferSelect, epochSeconds: number) {
  return {
    epoch: row.epoch,
    start: new Date(row.epoch * epochSeconds * 1000).toISOString(),
    end: new Date((row.epoch + 1) * epochSeconds * 1000).toISOString(),
    operationalSeconds: row.operationalSeconds,
    uptimeRatio: row.operationalSeconds / epochSeconds,
    sessionSeconds: row.sessionSeconds,
    bytesRecorded: String(row.bytesRecorded),
    credits: row.credits,
    weight: row.weight,
    earned: formatUnits(BigInt(row.units)),
    /** accrued | held (for review) | released | rejected */
    status: row.status,
    /** The node's own claims for the epoch (never paid; shown for review). */
    reported: { sessionSeconds: row.reportedSessionSeconds, bytesRecorded: String(row.reportedBytes) },
  };
}
export type EpochView = ReturnType<typeof epochView>;

export function payoutView(row: typeof payoutOutbox.$inferSelect) {
  return {
    idempotencyKey: row.idempotencyKey,
    nodeId: row.nodeId,
    amount: formatUnits(BigInt(row.amountUnits)),
    credits: row.credits,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === "queued" ? iso(row.nextAttemptAt) : null,
    lastError: row.lastError,
    payoutId: row.payoutId,
    createdAt: iso(row.createdAt)!,
    deliveredAt: iso(row.deliveredAt),
  };
}
export type PayoutView = ReturnType<typeof payoutView>;
