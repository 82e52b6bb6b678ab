import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { formatUnits } from "../../shared/money.ts";
import { payoutIdempotencyKey, type PayoutRequest } from "../../shared/nodes/payout.ts";
import { RefusalError } from "../../shared/outcome.ts";
import { retryDelayMs, type PayoutGateway } from "./payout-delivery.ts";
import * as schema from "./schema.ts";

/** The pool's payout outbox: accrual → one request (atomic), then at-least-once delivery with back-off. */
type Db = DrizzleSqliteDODatabase<typeof schema>;
const { nodes, payoutOutbox } = schema;
export type PayoutRow = typeof payoutOutbox.$inferSelect;
type NodeRow = typeof nodes.$inferSelect;

/**
 * Call inside a transaction: when the node's accrual reaches `thresholdUnits`, moves all of it into one
 * queued request and zeroes the accrual, so a second trigger finds nothing to pay. Null when below.
 */
export function queuePayoutIfDue(db: Db, nodeId: string, thresholdUnits: bigint, now: number): PayoutRow | null {
  const node = db.select().from(nodes).where(eq(nodes.id, nodeId)).get();
  if (!node || node.accruedUnits === 0 || BigInt(node.accruedUnits) < thresholdUnits) return null;
  // A payout address still cooling down after a change receives nothing; the accrual waits.
  if (addressCoolingDown(node, now)) return null;
  return reserve(db, node, node.accruedUnits, node.accruedCredits, true, now, now);
}

/** The address's cool-down end, while it lasts (a changed payout address receives nothing before). */
export function addressCoolingDown(node: NodeRow, now: number): number | null {
  return node.payoutAddressUsableAt !== null && node.payoutAddressUsableAt > now ? node.payoutAddressUsableAt : null;
}

/** Moves `units` of the node's accrual into one queued request (call inside a transaction). */
function reserve(db: Db, node: NodeRow, units: number, credits: number, automatic: boolean, now: number, deliverAt: number): PayoutRow {
  const sequence = node.payoutSequence + 1;
  const request: PayoutRequest = {
    idempotencyKey: payoutIdempotencyKey(node.id, sequence),
    nodeId: node.id,
    pool: node.pool,
    operatorId: node.operatorId,
    payoutAddress: node.payoutAddress,
    asset: "USDT",
    amountUnits: String(units),
    credits,
    reason: "work-credits",
    automatic,
    requestedAt: new Date(now).toISOString(),
  };
  db.update(nodes)
    .set({
      accruedUnits: sql`${nodes.accruedUnits} - ${units}`,
      accruedCredits: sql`${nodes.accruedCredits} - ${credits}`,
      requestedUnits: sql`${nodes.requestedUnits} + ${units}`,
      payoutSequence: sequence,
    })
    .where(eq(nodes.id, node.id))
    .run();
  return db
    .insert(payoutOutbox)
    .values({
      idempotencyKey: request.idempotencyKey,
      nodeId: node.id,
      amountUnits: units,
      credits,
      payload: request,
      status: "queued",
      nextAttemptAt: deliverAt,
      createdAt: now,
    })
    .returning()
    .get();
}

/**
 * An operator's request for part of its node's earnings (call inside a transaction): only its own
 * node, only to the registered payout address once any cool-down has passed, and at most the
 * available accrual (accrued − requested − paid: the pool moves requested amounts out of the
 * accrual, and paid ones were requested). The amount is reserved at once, so a second request sees
 * only what is left. Refusals change nothing.
 */
export function reserveOperatorPayout(
  db: Db,
  input: { nodeId: string; operatorId: string; amountUnits: bigint; recipient?: string; now: number; deliverAt: number },
): { row: PayoutRow; request: PayoutRequest } {
  const node = db.select().from(nodes).where(eq(nodes.id, input.nodeId)).get();
  if (!node || node.operatorId !== input.operatorId) throw new RefusalError("not-found", `No node ${input.nodeId}.`);
  if (input.recipient !== undefined && input.recipient !== node.payoutAddress) {
    throw new RefusalError("payout-address-mismatch", `Payouts of node ${node.id} go only to its registered payout address.`, {
      payoutAddress: node.payoutAddress,
    });
  }
  const coolingUntil = addressCoolingDown(node, input.now);
  if (coolingUntil !== null) {
    const usableAt = new Date(coolingUntil).toISOString();
    throw new RefusalError(
      "payout-address-cooling-down",
      `The payout address of node ${node.id} changed recently; it receives nothing before ${usableAt}.`,
      { usableAt },
    );
  }
  const available = BigInt(node.accruedUnits);
  if (input.amountUnits > available) {
    throw new RefusalError(
      "payout-exceeds-earnings",
      `Node ${node.id} has ${formatUnits(available)} USDT available, less than ${formatUnits(input.amountUnits)}.`,
      {
        available: formatUnits(available),
        requested: formatUnits(input.amountUnits),
      },
    );
  }
  const units = Number(input.amountUnits);
  const credits = node.accruedUnits === 0 ? 0 : Math.floor((node.accruedCredits * units) / node.accruedUnits);
  const row = reserve(db, node, units, credits, false, input.now, input.deliverAt);
  return { row, request: row.payload };
}

/** Call inside a transaction: a final refusal gives a queued request's amount back to the node's accrual. */
export function releasePayout(db: Db, idempotencyKey: string, reason: string, attempts?: number): boolean {
  const row = db.select().from(payoutOutbox).where(eq(payoutOutbox.idempotencyKey, idempotencyKey)).get();
  if (!row || row.status !== "queued") return false;
  db.update(payoutOutbox)
    .set({ attempts: attempts ?? row.attempts, status: "rejected", lastError: reason })
    .where(eq(payoutOutbox.idempotencyKey, idempotencyKey))
    .run();
  db.update(nodes)
    .set({
      accruedUnits: sql`${nodes.accruedUnits} + ${row.amountUnits}`,
      accruedCredits: sql`${nodes.accruedCredits} + ${row.credits}`,
      requestedUnits: sql`${nodes.requestedUnits} - ${row.amountUnits}`,
    })
    .where(eq(nodes.id, row.nodeId))
    .run();
  return true;
}

/** A new payout address (after the caller's step-up): it receives nothing for `cooldownMs`. */
export function changePayoutAddress(
  db: Db,
  input: { nodeId: string; operatorId: string; payoutAddress: string; now: number; cooldownMs: number },
): NodeRow {
  const node = db.select().from(nodes).where(eq(nodes.id, input.nodeId)).get();
  if (!node || node.operatorId !== input.operatorId) throw new RefusalError("not-found", `No node ${input.nodeId}.`);
  if (node.payoutAddress === input.payoutAddress) return node;
  db.update(nodes)
    .set({ payoutAddress: input.payoutAddress, payoutAddressUsableAt: input.now + input.cooldownMs })
    .where(eq(nodes.id, node.id))
    .run();
  return db.select().from(nodes).where(eq(nodes.id, node.id)).get()!;
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
      db
        .update(payoutOutbox)
        .set({ attempts, nextAttemptAt: Date.now() + retryDelayMs(attempts), lastError: error })
        .where(byKey)
        .run();
    if (!gateway) {
      retryLater("payments is not available yet (no LEDGER binding)");
      continue;
    }
    try {
      const receipt = await gateway.deliver(row.payload);
      if (receipt.status === "rejected") {
        // A final refusal: the amount goes back to the node's accrual so nothing is lost.
        storage.transactionSync(() => releasePayout(db, row.idempotencyKey, receipt.reason, attempts));
      } else {
        db.update(payoutOutbox)
          .set({ attempts, status: "delivered", payoutId: receipt.payoutId, deliveredAt: Date.now(), lastError: null })
          .where(byKey)
          .run();
      }
    } catch (error) {
      retryLater(error instanceof Error ? error.message.slice(0, 200) : "delivery failed");
    }
  }
}

/** Payments answered a request directly (the operator's route): no need to wait for the outbox. */
export function markDelivered(db: Db, idempotencyKey: string, payoutId: string, now: number): void {
  db.update(payoutOutbox)
    .set({ status: "delivered", payoutId, deliveredAt: now, lastError: null })
    .where(and(eq(payoutOutbox.idempotencyKey, idempotencyKey), eq(payoutOutbox.status, "queued")))
    .run();
}
