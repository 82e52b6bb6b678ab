import type { SignedHeader } from "../../shared/chain/block.ts";
import type { TxInclusionProof } from "../../shared/chain/proof.ts";
import type { AnchorTx, ChainTx } from "../../shared/chain/transactions.ts";
import type { TronAnchorProof } from "../../shared/chain/tron-anchor.ts";
import type { BlockFault } from "../../shared/chain/validate.ts";

/** The shapes ChainDO's RPC methods answer with (the functions import them from index.ts). */

export interface StoredBlock extends SignedHeader {
  txIds: string[];
}

export type SubmitResult =
  | { ok: true; accepted: string[]; alreadyKnown: string[] }
  | { ok: false; reason: "invalid" | "duplicate-anchor"; index: number; message: string };

/** What a session records when its final anchor is in a block (shared/session.ts anchorSchema). */
export interface AnchorNotice {
  chain: string;
  blockHeight: number;
  blockHash: string;
  txId: string;
  anchoredAt: string;
}

/** A reorg returned a session's final anchor to the mempool: the session waits for it again (SessionDO.withdrawAnchor). */
export interface AnchorWithdrawal {
  chain: string;
  txId: string;
  withdrawn: true;
}

export type TransactionLookup = { tx: ChainTx; height: number; txIndex: number } | { tx: ChainTx; pending: true } | null;
export type AnchorLookup = AnchorEvidence | { pending: true } | null;

export interface AnchorEvidence {
  tx: AnchorTx;
  txId: string;
  proof: TxInclusionProof;
  block: SignedHeader;
  /** The block's anchor on TRON, once an epoch anchor at or above it is in a TRON block. */
  tron?: TronAnchorProof;
}

/** What became of a branch of blocks offered by a peer (importBlocks). */
export interface ImportResult {
  adopted: boolean;
  /** Blocks of the branch that passed validation (a valid prefix is kept when a later block fails). */
  valid: number;
  height: number;
  headHash: string;
  /** Transactions returned to the mempool by a reorg. */
  orphaned: number;
  fault?: { index: number; fault: BlockFault | "unknown-parent" | "reorg-too-deep"; message: string };
}

export interface SyncReport {
  peer: string;
  ok: boolean;
  /** Imports made from this peer in the run (each validates up to CHAIN_SYNC_ROUND_BLOCKS blocks). */
  rounds?: number;
  /** The run's time budget ran out with the peer's chain still ahead: the alarm continues at once. */
  behind?: boolean;
  /** The last import's outcome. */
  result?: ImportResult;
  error?: string;
}
