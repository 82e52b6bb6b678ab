/**
 * Transactions the node pools hand to the chain (issue 5). Each pool keeps an outbox; the chain
 * pulls with NodePoolDO.pendingChainTransactions(limit) and confirms with
 * ackChainTransactions(ids) once the transactions are in a block. `id` is unique and stable,
 * so a transaction pulled twice (e.g. after a crash before the ack) is recognised as a duplicate.
 */
export interface WorkCreditTx {
  type: "work-credit";
  version: 1;
  /** `work-credit:<nodeId>:<epoch>` */
  id: string;
  nodeId: string;
  pool: string;
  operatorId: string;
  payoutAddress: string;
  epoch: number;
  epochStart: string;
  epochEnd: string;
  pootVersion: number;
  operationalSeconds: number;
  sessionSeconds: number;
  /** Decimal string: may exceed 2^53 in aggregate. */
  bytesRecorded: string;
  credits: number;
  /** The node's PoOT weight in the leader schedule for the next epoch. */
  weight: number;
}

export interface NodeEventTx {
  type: "node-event";
  version: 1;
  /** `node-event:<nodeId>:<event id>` */
  id: string;
  nodeId: string;
  pool: string;
  from: string | null;
  to: string;
  reason: string;
  at: string;
}

export type ChainTx = WorkCreditTx | NodeEventTx;

export function workCreditTxId(nodeId: string, epoch: number): string {
  return `work-credit:${nodeId}:${epoch}`;
}
