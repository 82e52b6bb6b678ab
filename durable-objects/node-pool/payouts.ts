import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { payoutIdempotencyKey, type PayoutRequest } from "../../shared/nodes/payout.ts";
import { retryDelayMs, type PayoutGateway } from "./payout-delivery.ts";
import * as schema from "./schema.ts";

/** The pool's payout outbox: accrual → one request (atomic), then at-least-once delivery with back-off. */
type Db = DrizzleSqliteDODatabase<typeof schema>;
const { nodes, payoutOutbox } = schema;
export type PayoutRow = typeof payoutOutbox.$inferSelect;

/**
 * Call inside a transaction: when the node's accrual reaches `thresholdUnits`, moves all of it into one
 * queued request and zeroes the accrual, so a second trigger finds nothing to pay. Null when below.
 */
export function queuePayoutIfDue(db: Db, nodeId: string, thresholdUnits: bigint, now: number): PayoutRow | null {
  const node = db.select().from(nodes).where(eq(nodes.id, nodeId)).get();
  if (!node || node.accruedUnits === 0 || BigInt(node.accruedUnits) < thresholdUnits) return null;
  const sequence = node.payoutSequence + 1;
  const request: PayoutRequest = {
    idempotencyKey: payoutIdempotencyKey(nodeId, sequence),
    nodeId,
    pool: node.pool,
    operatorId: node.operatorId,
    payoutAddress: node.payoutAddress,
    asset: "USDT",
    amountUnits: String(node.accruedUnits),
    credits: node.accruedCredits,
    reason: "work-credits",
    requestedAt: new Date(now).toISOString(),
  };
  db.update(nodes)
    .set({ accruedUnits: 0, accruedCredits: 0, requestedUnits: sql`${nodes.requestedUnits} + ${node.accruedUnits}`, payoutSequence: sequence })
    .where(eq(nodes.id, nodeId))
    .run();
  return db
    .insert(payoutOutbox)
    .values({
      idempotencyKey: request.idempotencyKey,
      nodeId,
      amountUnits: node.accruedUnits,
      credits: node.accruedCredits,
      payload: JSON.stringify(request),
      status: "queued",
      nextAttemptAt: now,
      createdAt: now,
    })
    .returning()
    .get();
}

/** Delivers due requests; without a gateway (payments not deployed) each one is rescheduled with back-off. */
export async function deliverDuePayouts(db: Db, storage: DurableObjectStorage, gateway: PayoutGateway | null, now: number): Promise<void> {
  const due = db
    .select()
    .from(payoutOutbox)
    .where(and(eq(payoutOutbox.status, "queued"), lte(payoutOutbox.nextAttemptAt, now)))
    .orderBy(asc(payoutOutbox.createdAt))
    .limit(50)
    .all();
  for (const row of due) {
    const attempts = row.attempts + 1;
    const byKey = eq(payoutOutbox.idempotencyKey, row.idempotencyKey);
    const retryLater = (error: string) =>
      db.update(payoutOutbox).set({ attempts, nextAttemptAt: Date.now() + retryDelayMs(attempts), lastError: error }).where(byKey).run();
    if (!gateway) {
      retryLater("payments is not available yet (no LEDGER binding)");
      continue;
    }
    try {
      const receipt = await gateway.deliver(JSON.parse(row.payload) as PayoutRequest);
      if (receipt.status === "rejected") {
        // A final refusal: the amount goes back to the node's accrual so nothing is lost.
        storage.transactionSync(() => {
          db.update(payoutOutbox).set({ attempts, status: "rejected", lastError: receipt.reason }).where(byKey).run();
          db.update(nodes)
            .set({
              accruedUnits: sql`${nodes.accruedUnits} + ${row.amountUnits}`,
              accruedCredits: sql`${nodes.accruedCredits} + ${row.credits}`,
              requestedUnits: sql`${nodes.requestedUnits} - ${row.amountUnits}`,
            })
            .where(eq(nodes.id, row.nodeId))
            .run();
        });
      } else {
        db.update(payoutOutbox).set({ attempts, status: "delivered", payoutId: receipt.payoutId, deliveredAt: Date.now(), lastError: null }).where(byKey).run();
      }
    } catch (error) {
      retryLater(error instanceof Error ? error.message.slice(0, 200) : "delivery failed");
    }
  }
}
