import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import type { Outcome } from "../../shared/outcome.ts";
import type { Anchor, Manifest } from "../../shared/session.ts";
import type { ScheduledTask } from "../scheduler.ts";
import { SqlDurableObject } from "../base.ts";
import type { Actor } from "./access.ts";
import { Anchoring } from "./anchoring.ts";
import { SessionContext } from "./context.ts";
import migrations from "./drizzle/migrations.js";
import { Ingest } from "./ingest.ts";
import { SessionKeys } from "./keys.ts";
import { Transfer } from "./transfer.ts";
import { Custody } from "./custody.ts";
import type { DamageReport, IntegrityResult } from "./integrity.ts";
import type { ShareInput, ShareView } from "./shares.ts";
import type { HandoverView } from "./handover.ts";
import { Lifecycle } from "./lifecycle.ts";
import { LiveStatus } from "./live.ts";
import { Pipeline } from "./pipeline.ts";
import { Proofs } from "./proofs.ts";
import { Retention } from "./retention.ts";
import * as schema from "./schema.ts";
import { Terms } from "./terms.ts";
import type { ChunkTerms } from "../../shared/recording/terms.ts";
import type { TaskName } from "./tasks.ts";
import type {
  BeginUpload,
  ChunkMeta,
  ChunkReceiptValue,
  ConsistencyProofValue,
  CreateSessionInput,
  InclusionProofValue,
  RdpStatusUpdate,
} from "./types.ts";
import { usageOf, type SessionUsage } from "./usage.ts";
import type { EventRow, SessionView } from "./view.ts";

export type { Actor } from "./access.ts";
export type * from "./types.ts";
export type { SessionView } from "./view.ts";
export type { HandoverView } from "./handover.ts";

/**
 * One recording session: its state machine and event log (context.ts, lifecycle.ts), its
 * chunks' metadata and uploads (ingest.ts), proofs over them (proofs.ts), its wrapped data key
 * (keys.ts), its anchors on the chain (anchoring.ts), retention and crypto-shredding
 * (retention.ts), the live status stream (live.ts), and the alarm-driven work run by the task
 * scheduler (pipeline.ts and the others: verify chunks → manifest → anchor → completed).
 * Everything lives in this object's SQLite, so a restart resumes where it stopped: the alarm and
 * the `tasks` table survive. This class owns the parts and is the only way in: each entry point
 * waits for start-up, delegates, and returns.
 */
export class SessionDO extends SqlDurableObject<typeof schema, Env> {
  readonly #s: SessionContext;
  readonly #live: LiveStatus;
  readonly #lifecycle: Lifecycle;
  readonly #keys: SessionKeys;
  readonly #ingest: Ingest;
  readonly #proofs: Proofs;
  readonly #anchoring: Anchoring;
  readonly #retention: Retention;
  readonly #pipeline: Pipeline;
  readonly #transfer: Transfer;
  readonly #custody: Custody;
  readonly #terms: Terms;

  constructor(ctx: DurableObjectState, env: Env) {
    // Named by the session id in the URL: a request for one that does not exist writes nothing.
    super(ctx, env, schema, migrations, { dormantUntilCreated: true });
    const s = (this.#s = new SessionContext(ctx, env, this.db, () => this.dormant));
    this.#live = new LiveStatus(s);
    this.#keys = new SessionKeys(s);
    this.#retention = new Retention(s);
    this.#lifecycle = new Lifecycle(s, this.#keys, this.#retention);
    this.#ingest = new Ingest(s, this.#retention);
    this.#proofs = new Proofs(s);
    this.#anchoring = new Anchoring(s);
    this.#custody = new Custody(s);
    this.#pipeline = new Pipeline(s, () => this.#custody.scheduleFirstScrub());
    this.#transfer = new Transfer(s);
    this.#terms = new Terms(s);
  }

  // ---- live status (WebSocket hibernation API) ------------------------------------------------

  /** Upgrades a request the route has already authorized into a status stream (live.ts). */
  override async fetch(request: Request): Promise<Response> {
    await this.ready();
    return this.#live.accept(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.#live.message(ws, message);
  }

  /** An RDP desktop of this session changed state (RdpHostDO calls this). */
  async rdpStatus(update: RdpStatusUpdate): Promise<Outcome<void>> {
    await this.ready();
    return this.#live.rdpStatus(update);
  }

  // ---- lifecycle ------------------------------------------------------------------------

  async create(input: CreateSessionInput): Promise<Outcome<SessionView>> {
    await this.materialize();
    return this.#lifecycle.create(input);
  }

  async get(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#lifecycle.get(actor);
  }

  /** For the node pool closing an epoch: what this session saw of `nodeId`'s work in [fromMs, toMs); null if it does not exist. */
  async usage(nodeId: string, fromMs: number, toMs: number): Promise<SessionUsage | null> {
    await this.ready();
    if (this.dormant) return null;
    return usageOf(this.db, nodeId, fromMs, toMs, Date.now());
  }

  async events(actor: Actor): Promise<Outcome<EventRow[]>> {
    await this.ready();
    return this.#lifecycle.events(actor);
  }

  async start(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#lifecycle.start(actor);
  }

  /** Ends the recording and finalizes; refused while a chunk below the final count is missing (lifecycle.ts). */
  async stop(actor: Actor, chunkCount?: number): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#lifecycle.stop(actor, chunkCount);
  }

  /** Deleting keeps the record, manifest and proofs but deletes the chunks and destroys the key. */
  async remove(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#lifecycle.remove(actor);
  }

  // ---- custody: legal hold and integrity at rest (custody.ts) -------------------------------

  async hold(actor: Actor, reason: string): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#custody.hold(actor, reason);
  }

  async liftHold(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#custody.liftHold(actor);
  }

  /** A download found a stored chunk that differs from what was received. */
  async reportDamage(input: DamageReport): Promise<Outcome<IntegrityResult>> {
    await this.ready();
    return this.#custody.reportDamage(input);
  }

  /** Re-hashes every stored chunk now (ADMIN). */
  async checkIntegrity(actor: Actor): Promise<Outcome<IntegrityResult>> {
    await this.ready();
    return this.#custody.check(actor);
  }

  // ---- key shares (keys.ts, shares.ts) ----------------------------------------------------

  async createShare(actor: Actor, input: ShareInput): Promise<Outcome<ShareView>> {
    await this.ready();
    return this.#keys.share(actor, input);
  }

  async shares(actor: Actor): Promise<Outcome<ShareView[]>> {
    await this.ready();
    return this.#keys.shares(actor);
  }

  // ---- hand-over to another node (transfer.ts, handover.ts) ---------------------------------

  /** An RDP desktop migrated: the session moves from `fromNode` to `toNode` at once. */
  async handOver(actor: Actor, fromNode: string, toNode: string): Promise<Outcome<HandoverView>> {
    await this.ready();
    return this.#transfer.handOver(actor, fromNode, toNode);
  }

  /** The hand-overs and the assigned node's first chunk index. */
  async handovers(actor: Actor): Promise<Outcome<{ nodeId: string; firstIndex: number | null; handovers: HandoverView[] }>> {
    await this.ready();
    return this.#transfer.list(actor);
  }

  /** The old node's chunk count once its recorder sealed the last chunk. */
  async sealHandover(actor: Actor, chunkCount: number): Promise<Outcome<HandoverView>> {
    await this.ready();
    return this.#transfer.seal(actor, chunkCount);
  }

  // ---- chain notices (anchoring.ts) ------------------------------------------------------------

  /** The chain: the session's root is in a block (or, after a reorg, somewhere else now). */
  async recordAnchor(anchor: Anchor): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#anchoring.record(anchor);
  }

  /** The chain: a reorg returned the session's final anchor to its mempool. */
  async withdrawAnchor(input: { chain: string; txId: string }): Promise<Outcome<SessionView>> {
    await this.ready();
    return this.#anchoring.withdraw(input);
  }

  // ---- data key ---------------------------------------------------------------------------

  /** The plain data key (base64) for the assigned node, the owner or an admin. */
  async releaseKey(actor: Actor): Promise<Outcome<{ key: string; algorithm: string }>> {
    await this.ready();
    return this.#keys.release(actor);
  }

  // ---- chunk ingest (ingest.ts) -------------------------------------------------------------

  async beginUpload(actor: Actor, index: number, sha256: string): Promise<Outcome<BeginUpload>> {
    await this.ready();
    return this.#ingest.begin(actor, index, sha256);
  }

  async commitUpload(
    actor: Actor,
    uploadId: string,
    chunk: { sha256: string; size: number } & ChunkMeta,
  ): Promise<Outcome<{ created: boolean; receipt: ChunkReceiptValue }>> {
    await this.ready();
    return this.#ingest.commit(actor, uploadId, chunk);
  }

  async abortUpload(actor: Actor, uploadId: string, reason: string): Promise<void> {
    await this.ready();
    return this.#ingest.abort(actor, uploadId, reason);
  }

  /** A stored chunk's search terms from its node, checked against the interaction policy (terms.ts). */
  async putTerms(actor: Actor, index: number, terms: ChunkTerms): Promise<Outcome<void>> {
    await this.ready();
    return this.#terms.put(actor, index, terms);
  }

  // ---- reading chunks, manifest and proofs (proofs.ts) --------------------------------------

  async chunkLocation(actor: Actor, index: number): Promise<Outcome<{ storeKey: string; size: number; sha256: string; damaged: boolean }>> {
    await this.ready();
    return this.#proofs.chunkLocation(actor, index);
  }

  async manifest(actor: Actor): Promise<Outcome<Manifest>> {
    await this.ready();
    return this.#proofs.manifest(actor);
  }

  async inclusionProof(actor: Actor, index: number, treeSize?: number): Promise<Outcome<InclusionProofValue>> {
    await this.ready();
    return this.#proofs.inclusion(actor, index, treeSize);
  }

  async consistencyProof(actor: Actor, from: number, to?: number): Promise<Outcome<ConsistencyProofValue>> {
    await this.ready();
    return this.#proofs.consistency(actor, from, to);
  }

  // ---- alarm-driven work (durable-objects/scheduler.ts) ---------------------------------------

  /** Pending alarm work, for operators and tests. */
  async pendingTasks(): Promise<ScheduledTask[]> {
    await this.ready();
    if (this.dormant) return [];
    return this.#s.tasks.list();
  }

  override async alarm(): Promise<void> {
    await this.ready();
    if (this.dormant) return; // never created: nothing was scheduled
    const failures = await this.#s.tasks.runDue((name) => this.#runTask(name));
    const sessionId = this.#s.row()?.id;
    for (const { name, attempts, error } of failures) {
      logEvent("warn", "session.task_failed", { sessionId, task: name, attempts, error }, this.#s.config.LOG_LEVEL);
    }
    if (failures.some((f) => f.name === "pipeline")) await this.#s.syncIndex();
  }

  /** Runs one task; returns a time to run it again, or undefined when it is done. */
  async #runTask(name: TaskName): Promise<number | undefined> {
    switch (name) {
      case "pipeline":
        return void (await this.#pipeline.run());
      case "index":
        return void (await this.#s.pushIndex());
      case "purge":
        return void (await this.#retention.purgeOrThrow());
      case "retention":
        return this.#retention.expire();
      case "sweep":
        return this.#retention.sweepUploads(false);
      case "anchor":
        return void (await this.#anchoring.submitFinal());
      case "interim":
        return void (await this.#anchoring.submitInterim());
      case "scrub":
        return this.#custody.scheduledScrub();
    }
  }
}
