/** Shapes of the API answers the dashboard reads (see /api/v1/openapi.json). */
export interface SessionSummary {
  id: string;
  ownerId: string;
  nodeId: string;
  title: string;
  tags: string[];
  state: string;
  createdAt: string;
  updatedAt: string;
}

export interface SessionDetail extends SessionSummary {
  notes: string;
  version: number;
  startedAt: string | null;
  stoppedAt: string | null;
  completedAt: string | null;
  expiresAt: string;
  chunks: { count: number; contiguous: number; bytes: number };
  treeSize: number | null;
  merkleRoot: string | null;
  anchor: { chain: string; blockHeight: number; blockHash: string; txId: string; anchoredAt: string } | null;
  keyShredded: boolean;
  deleted: boolean;
  failure: string | null;
}

export interface NodeInfo {
  id: string;
  pool: string;
  operatorId: string;
  payoutAddress: string;
  state: string;
  stateChangedAt: string;
  registeredAt: string;
  lastHeartbeatAt: string | null;
  operationalSeconds: number;
  credits: number;
  accrued: string;
  requested: string;
}

export interface NodeEpoch {
  epoch: number;
  start: string;
  end: string;
  operationalSeconds: number;
  uptimeRatio: number;
  credits: number;
  earned: string;
}

export interface BlockHeader {
  version: number;
  chain: string;
  height: number;
  previousHash: string;
  timestamp: number;
  epoch: number;
  slot: number;
  producer: string;
  txRoot: string;
  txCount: number;
}

export interface SignedBlock {
  header: BlockHeader;
  hash: string;
  signature: string;
  txIds?: string[];
}

export interface ChainStats {
  chain: string;
  height: number;
  headHash: string;
  headTime: number;
  transactions: number;
  anchors: number;
  mempool: number;
  producer: string;
  slotSeconds: number;
}

export interface Payout {
  id: string;
  recipient: string;
  amount: string;
  fee: string;
  net: string;
  source: "node" | "admin";
  requestedBy: string;
  state: string;
  approvedBy: string | null;
  txid: string | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
}
