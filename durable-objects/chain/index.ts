import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import { genesisHeader, hexToBytes, legacyGenesisHeader, producerPublicKey, type SignedHeader } from "../../shared/chain/block.ts";
import type { TxInclusionProof } from "../../shared/chain/proof.ts";
import { slotAt, slotStart, type ChainTiming, type ProducerWeight } from "../../shared/chain/schedule.ts";
import { chainTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { loadConfig } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import { auditChain, type AuditResult } from "./audit.ts";
import { anchorEvidence, interimAnchorPage, interimAnchors, transactionEvidence } from "./evidence.ts";
import { importBranch } from "./import-branch.ts";
import { pullFromNodePools, queueTransactions } from "./mempool.ts";
import { deliverable, deliverAnchorNotices, subscribe, WAITING } from "./notices.ts";
import { PeerBackoff } from "./peers.ts";
import { produceBlock } from "./production.ts";
import { archiveOldBlocks } from "./pruning.ts";
import { blockByHash, blockByHeight, blocksWithTxs, chainStats, findTransaction, headerRange } from "./queries.ts";
import { ChainState } from "./state.ts";
import { syncWithPeers, type PeerTransport } from "./sync.ts";
import { anchorEpochsOnTron, listTronAnchors } from "./tron.ts";
import type { AnchorEvidence, AnchorLookup, ImportResult, StoredBlock, SubmitResult, SyncReport, TransactionLookup } from "./types.ts";
import * as schema from "./schema.ts";

export type {
  AnchorEvidence,
  AnchorLookup,
  AnchorNotice,
  ImportResult,
  StoredBlock,
  SubmitResult,
  SyncReport,
  TransactionLookup,
} from "./types.ts";

/** Set once the final anchors queued before notices needed a subscription were subscribed (onStart). */
const SUBSCRIPTIONS_KEY = "anchor-notice-subscriptions";

/** How often the chain looks into the node pools' outboxes (work credits close once an epoch). */
export const NODE_PULL_INTERVAL_MS = 60_000;

const producerKey = z.string().regex(/^[0-9a-f]{64}$/, "CHAIN_PRODUCER_KEY must be 64 lowercase hex characters (an Ed25519 seed)");

/**
 * The Lucid chain on one instance: the single writer of blocks, included transactions, the
 * mempool and the epoch weights. Blocks come from alarms, one per slot at most, only in slots
 * this instance leads (a single-producer deployment leads every slot). A block, its
 * transactions and the removal of those transactions from the mempool commit in one SQLite
 * transaction, so a crash at any point leaves either the old head or the new one: no fork, no
 * transaction lost or included twice.
 *
 * This class owns the state (SQLite through ChainState, and the little kept in memory: when to
 * next look at the node pools, the peers' back-off) and the alarm loop; the work is in the
 * modules beside it: mempool, production, import-branch (validation and fork choice), sync,
 * notices, tron, pruning, audit, queries and evidence.
 */
export class ChainDO extends SqlDurableObject<typeof schema, Env> {
  #state!: ChainState;
  #nextNodePullAt = 0;
  /** The last sync run stopped on its time budget with a peer still ahead: the alarm continues at once. */
  #syncBehind = false;
  readonly #peerBackoff = new PeerBackoff();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
  }

  protected override async onStart(): Promise<void> {
    const config = loadConfig(this.env);
    const secretKey = hexToBytes(producerKey.parse(this.env.CHAIN_PRODUCER_KEY));
    const publicKey = producerPublicKey(secretKey);
    const timing: ChainTiming = {
      genesisTime: config.CHAIN_GENESIS_TIME,
      slotMs: config.BLOCK_INTERVAL_SECONDS * 1000,
      epochSlots: config.CHAIN_EPOCH_SLOTS,
    };
    const producers = [...new Set([...(config.CHAIN_PRODUCERS ?? []), publicKey])].sort();
    const genesis =
      this.#storedOnLegacyGenesis(config.BLOCKCHAIN_NETWORK, timing.genesisTime) ??
      genesisHeader(config.BLOCKCHAIN_NETWORK, timing.genesisTime, producers);
    this.#state = new ChainState(this.ctx.storage, this.db, this.env, config, timing, genesis, publicKey, secretKey, producers);
    // Blocks stored before fork choice existed were all single-producer blocks of weight 1.
    this.ctx.storage.sql.exec("UPDATE blocks SET weight = 1, cumulative_weight = height WHERE cumulative_weight = 0");
    this.#state.backfillTotals();
    // Before sessions subscribed, every included final anchor was announced: the ones queued then
    // are still announced, once, so no session that submitted before the upgrade waits forever.
    if (!(await this.ctx.storage.get<boolean>(SUBSCRIPTIONS_KEY))) {
      this.ctx.storage.sql.exec(
        "INSERT INTO anchor_notices (tx_id, session_id, notice, attempts, next_at) SELECT id, session_id, ?, 0, 0 FROM mempool WHERE final_anchor = 1 ON CONFLICT DO NOTHING",
        WAITING,
      );
      await this.ctx.storage.put(SUBSCRIPTIONS_KEY, true);
    }
    // A chain with peers or empty blocks runs by itself: its alarm loop starts with the object.
    if ((config.CHAIN_PEERS || config.CHAIN_EMPTY_BLOCKS) && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + 100);
    }
  }

  /** The legacy genesis when the stored chain was built on it (before genesis committed to the producers). */
  #storedOnLegacyGenesis(chain: string, genesisTime: number): SignedHeader | null {
    const first = this.ctx.storage.sql.exec<{ header: string }>("SELECT header FROM blocks WHERE height = 1").toArray()[0];
    if (!first) return null;
    const legacy = legacyGenesisHeader(chain, genesisTime);
    if ((JSON.parse(first.header) as { previousHash?: string }).previousHash !== legacy.hash) return null;
    logEvent("warn", "chain.legacy_genesis", {
      genesisHash: legacy.hash,
      note: "this chain's genesis predates the producer-set commitment",
    });
    return legacy;
  }

  /** Public facts a verifier or peer needs: chain name, timing, genesis hash (the trust root, committing to the producers) and this producer's key. */
  async info() {
    await this.ready();
    const s = this.#state;
    return {
      chain: s.config.BLOCKCHAIN_NETWORK,
      timing: s.timing,
      genesisHash: s.genesis.hash,
      producer: s.publicKey,
      producers: [...s.producers],
    };
  }

  /**
   * Validates and queues transactions; identical ones already queued or included are reported, not
   * repeated. `notify`: the caller is the session of the final anchors among them (SessionDO), and
   * is told where each lands (notices.ts subscribe), also when its final anchor was there already.
   */
  async submit(input: unknown[], options: { notify?: boolean } = {}): Promise<SubmitResult> {
    await this.ready();
    const now = Date.now();
    const result = queueTransactions(this.#state, input, now);
    if (options.notify && (result.ok || result.reason === "duplicate-anchor")) {
      const sessions = new Set(
        input.flatMap((raw) => {
          const tx = chainTx.safeParse(raw);
          return tx.success && tx.data.type === "anchor" && !tx.data.interim ? [tx.data.sessionId] : [];
        }),
      );
      this.ctx.storage.transactionSync(() => {
        for (const sessionId of sessions) subscribe(this.#state, sessionId);
      });
    }
    if (result.ok && result.accepted.length > 0) await this.#scheduleNextBlock(now);
    return result;
  }

  /** Sets the operational-time weights of an epoch's producers (written by the nodes function). */
  async setEpochWeights(epoch: number, weights: ProducerWeight[]): Promise<void> {
    await this.ready();
    this.ctx.storage.transactionSync(() => {
      this.db.delete(schema.epochWeights).where(eq(schema.epochWeights.epoch, epoch)).run();
      for (const w of weights)
        this.db
          .insert(schema.epochWeights)
          .values({ epoch, ...w })
          .run();
    });
  }

  override async alarm(): Promise<void> {
    await this.ready();
    const now = Date.now();
    try {
      await this.pullNodeTransactions(now);
      await this.syncWithPeers(now);
      // A block on a head a peer has already outgrown would only be orphaned: catch up first.
      if (!this.#syncBehind) await this.produceAt(Date.now());
      // By the clock after production, so the notices of the block just made go out in this alarm.
      await deliverAnchorNotices(this.#state, Date.now());
      await this.anchorOnTron(now);
      await this.archiveBlocks();
    } catch (error) {
      // The runtime retries the alarm; say why, since nothing else will.
      logEvent("error", "chain.produce_failed", { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      throw error;
    } finally {
      await this.#scheduleNextBlock(now, true);
    }
  }

  /** Produces the block of the slot containing `now` if this instance leads it (production.ts). */
  produceAt(now: number): Promise<SignedHeader | null> {
    return this.#exclusively(() => produceBlock(this.#state, now));
  }

  /** Offers a branch of blocks; it becomes the chain when valid and heavier (import-branch.ts). */
  async importBlocks(input: unknown[], now = Date.now()): Promise<ImportResult> {
    await this.ready();
    const result = await this.#exclusively(() => importBranch(this.#state, input, now));
    if (result.adopted) await this.#scheduleNextBlock(now);
    return result;
  }

  /**
   * One peer sync run (sync.ts), within CHAIN_SYNC_BUDGET_MS of `now`. `transport` says which
   * peers to ask and how to reach them: CHAIN_PEERS over the outbound fetch unless given.
   */
  async syncWithPeers(now = Date.now(), transport?: PeerTransport): Promise<SyncReport[]> {
    await this.ready();
    const peers = transport ?? { peers: this.#state.config.CHAIN_PEERS ?? [] };
    const reports = await syncWithPeers(this.#state, this.#peerBackoff, (blocks, at) => this.importBlocks(blocks, at), now, peers);
    this.#syncBehind = reports.some((r) => r.behind);
    if (this.#syncBehind) await this.#scheduleNextBlock(now);
    return reports;
  }

  /** Full blocks (headers and transactions) from `from` upwards, for peers. */
  async blocksWithTxs(from: number, limit: number): Promise<(SignedHeader & { txs: ChainTx[] })[]> {
    await this.ready();
    return blocksWithTxs(this.#state, from, limit);
  }

  /** Moves old blocks' transaction bodies to the chunk store (pruning.ts). */
  async archiveBlocks(retention?: number, max = 50): Promise<number> {
    await this.ready();
    return archiveOldBlocks(this.#state, retention ?? this.#state.config.CHAIN_RETENTION_BLOCKS, max);
  }

  /** Re-checks the stored chain from genesis and names the first altered block (audit.ts). */
  async audit(): Promise<AuditResult> {
    await this.ready();
    return auditChain(this.#state);
  }

  /** Anchors each closed epoch's head on TRON and follows it to solidification (tron.ts). */
  async anchorOnTron(now = Date.now()): Promise<void> {
    await this.ready();
    await anchorEpochsOnTron(this.#state, now);
  }

  /** Where the TRON anchors stand (newest first). */
  async tronAnchors(limit = 20) {
    await this.ready();
    return listTronAnchors(this.#state, limit);
  }

  /** An epoch's leader-schedule inputs on the stored chain (for explorers and operators). */
  async epochSchedule(epoch: number): Promise<{ epoch: number; seedHash: string; weights: ProducerWeight[] }> {
    await this.ready();
    return { epoch, seedHash: this.#state.seedFor(epoch), weights: this.#state.weightsFor(epoch) };
  }

  /**
   * Pulls work credits and node events from every node pool's outbox into the mempool, at most
   * once per NODE_PULL_INTERVAL_MS (mempool.ts).
   */
  async pullNodeTransactions(now: number): Promise<number> {
    await this.ready();
    if (now < this.#nextNodePullAt) return 0;
    this.#nextNodePullAt = now + NODE_PULL_INTERVAL_MS;
    return pullFromNodePools(this.#state, (txs) => this.submit(txs));
  }

  async head(): Promise<SignedHeader> {
    await this.ready();
    return this.#state.head();
  }

  async blockByHeight(height: number): Promise<StoredBlock | null> {
    await this.ready();
    return blockByHeight(this.#state, height);
  }

  async blockByHash(hash: string): Promise<StoredBlock | null> {
    await this.ready();
    return blockByHash(this.#state, hash);
  }

  /** Headers from `from` upwards (at most `limit`), for explorers and peers. */
  async range(from: number, limit: number): Promise<SignedHeader[]> {
    await this.ready();
    return headerRange(this.#state, from, limit);
  }

  async transaction(id: string): Promise<TransactionLookup> {
    await this.ready();
    return findTransaction(this.#state, id);
  }

  /** Any included transaction with its inclusion proof and signed block header (null while pending or unknown). */
  async transactionEvidence(id: string): Promise<{ tx: ChainTx; txId: string; proof: TxInclusionProof; block: SignedHeader } | null> {
    await this.ready();
    return transactionEvidence(this.#state, id);
  }

  /** The session's final anchor (or, while it records, its latest interim one) with everything needed to verify it. */
  async anchorEvidence(sessionId: string): Promise<AnchorLookup> {
    await this.ready();
    return anchorEvidence(this.#state, sessionId);
  }

  /** Every interim (rolling) anchor of a session on chain, smallest prefix first, each with its proof. */
  async interimAnchors(sessionId: string): Promise<AnchorEvidence[]> {
    await this.ready();
    return interimAnchors(this.#state, sessionId);
  }

  /** A page of the session's interim anchors with their proofs; null when the chain knows no anchor of the session. */
  async interimAnchorPage(sessionId: string, offset: number, limit: number): Promise<{ total: number; anchors: AnchorEvidence[] } | null> {
    await this.ready();
    return interimAnchorPage(this.#state, sessionId, offset, limit);
  }

  async stats() {
    await this.ready();
    return chainStats(this.#state);
  }

  /**
   * Runs a read-validate-write step (production, a branch import) with no other event delivered
   * in between: block validation awaits WebCrypto (native Ed25519), which would otherwise let a
   * submit, an import or a sync interleave between reading the head and writing above it. Errors
   * are carried out of blockConcurrencyWhile and rethrown, since one thrown inside resets the object.
   */
  async #exclusively<T>(step: () => Promise<T>): Promise<T> {
    const outcome = await this.ctx.blockConcurrencyWhile(async (): Promise<{ value: T } | { error: unknown }> => {
      try {
        return { value: await step() };
      } catch (error) {
        return { error };
      }
    });
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  }

  /**
   * Arms the alarm for the next slot when there is work. From submit() only when no alarm is
   * pending (never pushing a due alarm into the future, which would starve production); from
   * the alarm handler itself unconditionally, since the running alarm is cleared when it returns.
   */
  async #scheduleNextBlock(now: number, fromAlarm = false): Promise<void> {
    const { config, timing } = this.#state;
    const pending = this.db.select({ seq: schema.mempool.seq }).from(schema.mempool).limit(1).get();
    const notice = this.db
      .select({ nextAt: schema.anchorNotices.nextAt })
      .from(schema.anchorNotices)
      .where(deliverable)
      .orderBy(asc(schema.anchorNotices.nextAt))
      .limit(1)
      .get();
    const nextSlot = slotStart(timing, slotAt(timing, now) + 1);
    // Always wake for the next pull of the node pools; sooner for a block or a due notice.
    const candidates = [Math.max(now, this.#nextNodePullAt, now + 1000)];
    // Peers are asked every slot, and an instance with peers may lead the next one.
    if (pending || config.CHAIN_EMPTY_BLOCKS || config.CHAIN_PEERS) candidates.push(nextSlot);
    if (notice) candidates.push(Math.max(now, notice.nextAt));
    if (this.#syncBehind) candidates.push(now);
    const next = Math.min(...candidates);
    const current = fromAlarm ? null : await this.ctx.storage.getAlarm();
    // A pending alarm is kept unless it is later than needed or overdue by more than a slot
    // (then it is not going to fire on its own: the storage can report a spent alarm time).
    const keep = current !== null && current <= next && current >= now - timing.slotMs;
    if (!keep) await this.ctx.storage.setAlarm(next);
  }
}
