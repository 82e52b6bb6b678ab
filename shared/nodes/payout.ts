/**
 * A payout request from a node pool to payments (issue 7). Delivered at least once from the
 * pool's outbox; payments must treat `idempotencyKey` as the identity of the request, so a
 * redelivery returns the first answer instead of paying twice.
 */
export interface PayoutRequest {
  idempotencyKey: string;
  nodeId: string;
  pool: string;
  operatorId: string;
  /** Operator's TRON address (base58check). */
  payoutAddress: string;
  asset: "USDT";
  /** USDT base units (1 USDT = 1 000 000) as a decimal string. */
  amountUnits: string;
  /** Work credits this payout settles. */
  credits: number;
  reason: "work-credits";
  /**
   * True for the payout of a node's whole accrual at AUTO_PAYOUT_THRESHOLD: payments executes it
   * without an admin inside its policy limits. False (or absent) for an amount an operator asked for.
   */
  automatic?: boolean;
  requestedAt: string;
}

/** What payments answers. `rejected` is final (e.g. an address payments refuses); the pool re-accrues. */
export type PayoutReceipt = { status: "accepted" | "duplicate"; payoutId: string } | { status: "rejected"; reason: string };

export function payoutIdempotencyKey(nodeId: string, sequence: number): string {
  return `node-payout:${nodeId}:${sequence}`;
}
