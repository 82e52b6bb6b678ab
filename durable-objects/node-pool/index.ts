import { and, asc, desc, eq, inArray, isNull, lte, min, sql } from "drizzle-orm";
import { loadConfig, type Config } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import { formatUnits } from "../../shared/money.ts";
import type { NodeEventTx, WorkCreditTx } from "../../shared/nodes/chain-tx.ts";
import { credentialRequestMessage, newHeartbeatChallenge, type Heartbeat, type Resources } from "../../shared/nodes/protocol.ts";
import { epochOf, epochWindow, type ObservedWork } from "../../shared/nodes/poot.ts";
import { acceptsHeartbeats, canTransition, stateFromReport, type NodeState } from "../../shared/nodes/states.ts";
import { heartbeatRefusal, skewRefusal, verifySignature, type BeatLimits } from "../../shared/nodes/verify.ts";
import { ok, outcome, refuse, type Outcome, type Refusal } from "../../shared/outcome.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import { payoutGatewayFrom, RETRY_BASE_MS } from "./payout-delivery.ts";
import { alertHeldEpochs, heldEpochRows, nodesToClose, observeNode, reviewHeldEpoch, settleEpoch } from "./epochs.ts";
import { reportBoundsRefusal } from "./report-bounds.ts";
import {
  addressCoolingDown,
  changePayoutAddress,
  deliverDuePayouts,
  markDelivered,
  queuePayoutIfDue,
  releasePayout,
  reserveOperatorPayout,
} from "./payouts.ts";
import type { PayoutRequest } from "../../shared/nodes/payout.ts";
import * as schema from "./schema.ts";
import { epochView, nodeView, payoutView, type EpochView, type NodeRow, type NodeView, type PayoutView } from "./views.ts";
import { wakeBy } from "../scheduler.ts";

export interface RegisterInput {
  pool: string;
  nodeId: string;
  operatorId: string;
  publicKey: string;
  payoutAddress: string;
  resources: Resources;
  credential: { jti: string; issuedAt: number; expiresAt: number };
}

export interface CredentialStatus {
  valid: boolean;
  reason?: string;
  state?: NodeState;
}

const LAST_CLOSED_EPOCH = "last_closed_epoch";
const { nodes, nodeEvents, credentials, heartbeats, nodeEpochs, nodeSessions, chainOutbox, payoutOutbox, meta } = schema;

/**
 * One pool of at most NODE_POOL_MAX_NODES nodes: the single writer of their registration,
 * credentials (revocation state), heartbeats, state machine, PoOT per epoch, work credits,
 * payout accrual and the two outboxes (chain transactions, payout requests). The alarm marks
 * silent nodes offline, closes epochs and retries payout delivery.
 */
export class NodePoolDO extends SqlDurableObject<typeof schema, Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
  }

  get #config(): Config {
    return loadConfig(this.env);
  }

  protected override onStart(): void {
    const row = this.db.select().from(meta).where(eq(meta.key, LAST_CLOSED_EPOCH)).get();
    if (!row) {
      const current = epochOf(Date.now(), this.#config.EPOCH_SECONDS);
      this.db
        .insert(meta)
        .values({ key: LAST_CLOSED_EPOCH, value: current - 1 })
        .run();
    }
  }

  /** Registers a node; the answer carries the challenge its first heartbeat must sign. */
  async register(input: RegisterInput): Promise<Outcome<{ node: NodeView; heartbeatChallenge: string }>> {
    await this.ready();
    const max = this.#config.NODE_POOL_MAX_NODES;
    const challenge = newHeartbeatChallenge();
    const outcome = this.ctx.storage.transactionSync((): Outcome<{ node: NodeView; heartbeatChallenge: string }> => {
      const count =
        this.db
          .select({ n: sql<number>`count(*)` })
          .from(nodes)
          .get()?.n ?? 0;
      if (count >= max)
        return refuse("pool-full", `Pool ${input.pool} already holds ${count} nodes (max ${max}).`, { pool: input.pool, maxNodes: max });
      if (this.db.select().from(nodes).where(eq(nodes.publicKey, input.publicKey)).get()) {
        return refuse("conflict", "This node public key is already registered.");
      }
      const now = Date.now();
      this.db
        .insert(nodes)
        .values({
          id: input.nodeId,
          pool: input.pool,
          operatorId: input.operatorId,
          publicKey: input.publicKey,
          payoutAddress: input.payoutAddress,
          ...input.resources,
          state: "registering",
          stateChangedAt: now,
          registeredAt: now,
          heartbeatChallenge: challenge,
        })
        .run();
      this.#logEvent(input.nodeId, input.pool, null, "registering", "registered", input.operatorId, now);
      this.db
        .insert(credentials)
        .values({ ...input.credential, nodeId: input.nodeId })
        .run();
      return ok({ node: nodeView(this.#node(input.nodeId)!), heartbeatChallenge: challenge });
    });
    if (outcome.ok) await this.#ensureAlarm(Date.now() + this.#epochCloseDelayMs());
    return outcome;
  }

  /**
   * Verifies and stores one heartbeat; any refusal stores nothing. The beat must sign the current
   * challenge; an accepted beat replaces it with a fresh one, returned for the next beat.
   */
  async heartbeat(
    nodeId: string,
    jti: string,
    beat: Heartbeat,
  ): Promise<Outcome<{ state: NodeState; seq: number; nextHeartbeatSeconds: number; challenge: string }>> {
    await this.ready();
    const config = this.#config;
    const now = Date.now();
    const node = this.#node(nodeId);
    if (!node) return refuse("not-found", `No node ${nodeId} in this pool.`);
    const status = this.#credentialStatus(node, jti, now);
    if (!status.valid) return refuse("credential-revoked", status.reason!, { state: node.state });
    if (!acceptsHeartbeats(node.state as NodeState))
      return refuse("node-state-conflict", `A ${node.state} node cannot send heartbeats.`, { state: node.state });
    const limits: BeatLimits = { maxSkewSeconds: config.HEARTBEAT_MAX_SKEW_SECONDS, seqWindow: config.NODE_HEARTBEAT_SEQ_WINDOW };
    const refusal = this.refuseHeartbeat(node, beat, now, limits) ?? reportBoundsRefusal(node, beat.report, now);
    if (refusal) return { ok: false, problem: refusal };

    const next = stateFromReport(beat.report);
    const challenge = newHeartbeatChallenge();
    this.ctx.storage.transactionSync(() => {
      this.db
        .insert(heartbeats)
        .values({ nodeId, seq: beat.seq, at: now, sentAt: beat.sentAt, ...beat.report })
        .run();
      this.db
        .update(nodes)
        .set({
          lastSeq: beat.seq,
          lastSentAt: beat.sentAt,
          lastHeartbeatAt: now,
          lastReport: beat.report,
          heartbeatChallenge: challenge,
        })
        .where(eq(nodes.id, nodeId))
        .run();
      if (next !== node.state) this.#transition(node, next, node.state === "offline" ? "heartbeat-resumed" : "heartbeat", null, now);
    });
    await this.#ensureAlarm(now + this.#offlineAfterMs() + 1);
    return ok({ state: next, seq: beat.seq, nextHeartbeatSeconds: config.HEARTBEAT_INTERVAL_SECONDS, challenge });
  }

  /**
   * The challenge the node's next beat must sign, for an agent that (re)starts without one; the
   * route checks the node credential first. Reading it does not rotate it, so a second reader
   * cannot lock the running agent out; the first accepted beat uses it up.
   */
  async heartbeatChallenge(
    nodeId: string,
    jti: string,
  ): Promise<Outcome<{ challenge: string; lastSeq: number; nextHeartbeatSeconds: number }>> {
    await this.ready();
    const node = this.#node(nodeId);
    if (!node) return refuse("not-found", `No node ${nodeId} in this pool.`);
    const status = this.#credentialStatus(node, jti, Date.now());
    if (!status.valid) return refuse("credential-revoked", status.reason!, { state: node.state });
    let challenge = node.heartbeatChallenge;
    if (challenge === null) {
      // Nodes registered before challenges existed get their first one here.
      challenge = newHeartbeatChallenge();
      this.db.update(nodes).set({ heartbeatChallenge: challenge }).where(eq(nodes.id, nodeId)).run();
    }
    return ok({ challenge, lastSeq: node.lastSeq, nextHeartbeatSeconds: this.#config.HEARTBEAT_INTERVAL_SECONDS });
  }

  /** Records that the server placed a session on the node (idempotent): PoOT asks only these sessions. */
  async assignSession(nodeId: string, sessionId: string): Promise<Outcome<{ sessionId: string }>> {
    await this.ready();
    if (!this.#node(nodeId)) return refuse("unknown-node", `No node ${nodeId} is registered.`, { nodeId });
    this.db.insert(nodeSessions).values({ sessionId, nodeId, assignedAt: Date.now() }).onConflictDoNothing().run();
    return ok({ sessionId });
  }

  /** For verifiers of node credentials (sessions): the credential exists, is unrevoked and unexpired, and its node may work. */
  async credentialStatus(nodeId: string, jti: string): Promise<CredentialStatus> {
    await this.ready();
    const node = this.#node(nodeId);
    if (!node) return { valid: false, reason: "unknown node" };
    return this.#credentialStatus(node, jti, Date.now());
  }

  /** A fresh credential for a node that proves it still holds its key (e.g. after a revocation). */
  async issueCredential(
    nodeId: string,
    proof: { timestamp: number; signature: string },
    credential: { jti: string; issuedAt: number; expiresAt: number },
  ): Promise<Outcome<{ jti: string }>> {
    await this.ready();
    const node = this.#node(nodeId);
    if (!node) return refuse("not-found", `No node ${nodeId}.`);
    if (node.state === "terminated" || node.state === "suspended")
      return refuse("node-state-conflict", `A ${node.state} node gets no credential.`, { state: node.state });
    const skew = skewRefusal(proof.timestamp, Date.now(), this.#config.HEARTBEAT_MAX_SKEW_SECONDS);
    if (skew) return { ok: false, problem: skew };
    if (!verifySignature(node.publicKey, credentialRequestMessage(nodeId, proof.timestamp), proof.signature)) {
      return refuse("invalid-signature", "The request is not signed by this node's key.");
    }
    this.db
      .insert(credentials)
      .values({ ...credential, nodeId })
      .run();
    return ok({ jti: credential.jti });
  }

  async revokeCredential(nodeId: string, jti: string, actor: string): Promise<Outcome<{ jti: string; revokedAt: string }>> {
    await this.ready();
    const row = this.db
      .select()
      .from(credentials)
      .where(and(eq(credentials.jti, jti), eq(credentials.nodeId, nodeId)))
      .get();
    if (!row) return refuse("not-found", `No credential ${jti} for node ${nodeId}.`);
    const revokedAt = row.revokedAt ?? Date.now();
    if (row.revokedAt === null) this.db.update(credentials).set({ revokedAt, revokedBy: actor }).where(eq(credentials.jti, jti)).run();
    return ok({ jti, revokedAt: new Date(revokedAt).toISOString() });
  }

  async getNode(nodeId: string): Promise<NodeView | null> {
    await this.ready();
    const row = this.#node(nodeId);
    return row ? nodeView(row) : null;
  }

  async listNodes(ids?: string[]): Promise<NodeView[]> {
    await this.ready();
    const query = this.db.select().from(nodes);
    const rows = ids
      ? query.where(inArray(nodes.id, ids)).orderBy(asc(nodes.registeredAt)).all()
      : query.orderBy(asc(nodes.registeredAt)).all();
    return rows.map(nodeView);
  }

  async nodeHistory(
    nodeId: string,
    limit: number,
  ): Promise<{
    epochs: EpochView[];
    payouts: PayoutView[];
    events: { from: string | null; to: string; reason: string; actor: string | null; at: string }[];
  }> {
    await this.ready();
    const epochSeconds = this.#config.EPOCH_SECONDS;
    const epochs = this.db
      .select()
      .from(nodeEpochs)
      .where(eq(nodeEpochs.nodeId, nodeId))
      .orderBy(desc(nodeEpochs.epoch))
      .limit(limit)
      .all();
    const payouts = this.db
      .select()
      .from(payoutOutbox)
      .where(eq(payoutOutbox.nodeId, nodeId))
      .orderBy(desc(payoutOutbox.createdAt))
      .limit(limit)
      .all();
    const events = this.db.select().from(nodeEvents).where(eq(nodeEvents.nodeId, nodeId)).orderBy(desc(nodeEvents.id)).limit(limit).all();
    return {
      epochs: epochs.map((e) => epochView(e, epochSeconds)),
      payouts: payouts.map(payoutView),
      events: events.map((e) => ({ from: e.fromState, to: e.toState, reason: e.reason, actor: e.actor, at: new Date(e.at).toISOString() })),
    };
  }

  /** Admin action: suspend (refuses heartbeats and credentials) or reinstate (back to offline until the next beat). */
  async setSuspended({
    nodeId,
    suspended,
    actor,
    reason,
  }: {
    nodeId: string;
    suspended: boolean;
    actor: string;
    reason: string;
  }): Promise<Outcome<NodeView>> {
    await this.ready();
    const node = this.#node(nodeId);
    if (!node) return refuse("not-found", `No node ${nodeId}.`);
    const to: NodeState = suspended ? "suspended" : "offline";
    if (node.state === to) return ok(nodeView(node));
    if (!canTransition(node.state as NodeState, to))
      return refuse("node-state-conflict", `A ${node.state} node cannot become ${to}.`, { state: node.state });
    this.ctx.storage.transactionSync(() => this.#transition(node, to, reason, actor, Date.now()));
    return ok(nodeView(this.#node(nodeId)!));
  }

  /** Decommissions a node for good: every credential is revoked; its history and accrual stay. */
  async terminate({ nodeId, actor, reason }: { nodeId: string; actor: string; reason: string }): Promise<Outcome<NodeView>> {
    await this.ready();
    const node = this.#node(nodeId);
    if (!node) return refuse("not-found", `No node ${nodeId}.`);
    if (node.state !== "terminated") {
      const now = Date.now();
      this.ctx.storage.transactionSync(() => {
        this.#transition(node, "terminated", reason, actor, now);
        this.db
          .update(credentials)
          .set({ revokedAt: now, revokedBy: actor })
          .where(and(eq(credentials.nodeId, nodeId), isNull(credentials.revokedAt)))
          .run();
      });
    }
    return ok(nodeView(this.#node(nodeId)!));
  }

  /** Queues a payout of everything accrued when it reaches the threshold. Serial by construction: one request however many triggers. */
  async requestPayout(nodeId: string): Promise<Outcome<PayoutView>> {
    await this.ready();
    const node = this.#node(nodeId);
    if (!node) return refuse("not-found", `No node ${nodeId}.`);
    const coolingUntil = addressCoolingDown(node, Date.now());
    if (coolingUntil !== null) {
      const usableAt = new Date(coolingUntil).toISOString();
      return refuse(
        "payout-address-cooling-down",
        `The payout address of node ${nodeId} changed recently; it receives nothing before ${usableAt}.`,
        { usableAt },
      );
    }
    const queued = this.ctx.storage.transactionSync(() =>
      queuePayoutIfDue(this.db, nodeId, this.#config.AUTO_PAYOUT_THRESHOLD, Date.now()),
    );
    if (!queued) {
      const threshold = this.#config.AUTO_PAYOUT_THRESHOLD;
      return refuse(
        "payout-below-threshold",
        `Accrued ${formatUnits(BigInt(node.accruedUnits))} USDT is below the ${formatUnits(threshold)} USDT threshold.`,
        {
          accrued: formatUnits(BigInt(node.accruedUnits)),
          threshold: formatUnits(threshold),
        },
      );
    }
    await this.#ensureAlarm(Date.now());
    return ok(payoutView(queued));
  }

  /**
   * An operator's payout of part of its node's earnings (payouts.ts reserveOperatorPayout): the
   * amount is reserved from the accrual at once and queued; the caller hands the request to
   * payments and reports back (markPayoutDelivered / releasePayout). Should the caller vanish,
   * the outbox delivers it after RETRY_BASE_MS.
   */
  async reserveOperatorPayout(input: {
    nodeId: string;
    operatorId: string;
    amountUnits: string;
    recipient?: string;
  }): Promise<Outcome<PayoutRequest>> {
    await this.ready();
    const now = Date.now();
    const result = await outcome(() =>
      this.ctx.storage.transactionSync(() =>
        reserveOperatorPayout(this.db, {
          nodeId: input.nodeId,
          operatorId: input.operatorId,
          amountUnits: BigInt(input.amountUnits),
          recipient: input.recipient,
          now,
          deliverAt: now + RETRY_BASE_MS,
        }),
      ),
    );
    if (!result.ok) return result;
    await this.#ensureAlarm(result.value.row.nextAttemptAt);
    return ok(result.value.request);
  }

  async markPayoutDelivered(idempotencyKey: string, payoutId: string): Promise<void> {
    await this.ready();
    markDelivered(this.db, idempotencyKey, payoutId, Date.now());
  }

  /** Payments refused the request for good: its amount returns to the node's accrual. */
  async releasePayout(idempotencyKey: string, reason: string): Promise<boolean> {
    await this.ready();
    return this.ctx.storage.transactionSync(() => releasePayout(this.db, idempotencyKey, reason));
  }

  /** Sets a node's payout address (the route checked the operator's step-up); it cools down before receiving. */
  async changePayoutAddress(input: { nodeId: string; operatorId: string; payoutAddress: string }): Promise<Outcome<NodeView>> {
    await this.ready();
    const cooldownMs = this.#config.PAYOUT_ADDRESS_COOLDOWN_SECONDS * 1000;
    return outcome(() => {
      const before = this.#node(input.nodeId);
      const row = this.ctx.storage.transactionSync(() => changePayoutAddress(this.db, { ...input, now: Date.now(), cooldownMs }));
      if (before && before.payoutAddress !== row.payoutAddress)
        this.#logEvent(
          row.id,
          row.pool,
          row.state as NodeState,
          row.state as NodeState,
          "payout-address-changed",
          input.operatorId,
          Date.now(),
        );
      return nodeView(row);
    });
  }

  async leaderboard(
    limit: number,
  ): Promise<{ nodeId: string; operatorId: string; pool: string; operationalSeconds: number; credits: number }[]> {
    await this.ready();
    return this.db
      .select({
        nodeId: nodes.id,
        operatorId: nodes.operatorId,
        pool: nodes.pool,
        operationalSeconds: nodes.operationalSecondsTotal,
        credits: nodes.creditsTotal,
      })
      .from(nodes)
      .orderBy(desc(nodes.operationalSecondsTotal), asc(nodes.id))
      .limit(limit)
      .all();
  }

  /** The chain pulls work-credit and node-event transactions here, then acknowledges them. */
  async pendingChainTransactions(limit: number): Promise<(WorkCreditTx | NodeEventTx)[]> {
    await this.ready();
    return this.db
      .select()
      .from(chainOutbox)
      .orderBy(asc(chainOutbox.createdAt), asc(chainOutbox.id))
      .limit(limit)
      .all()
      .map((r) => r.payload);
  }

  async ackChainTransactions(ids: string[]): Promise<number> {
    await this.ready();
    if (ids.length === 0) return 0;
    return this.db.delete(chainOutbox).where(inArray(chainOutbox.id, ids)).returning({ id: chainOutbox.id }).all().length;
  }

  /** PoOT weights of one closed epoch, for the chain's leader schedule. */
  async epochWeights(epoch: number): Promise<{ nodeId: string; weight: number }[]> {
    await this.ready();
    // A held epoch weighs nothing until an admin releases it; a rejected one never does.
    return this.db
      .select({ nodeId: nodeEpochs.nodeId, weight: nodeEpochs.weight })
      .from(nodeEpochs)
      .where(and(eq(nodeEpochs.epoch, epoch), inArray(nodeEpochs.status, ["accrued", "released"])))
      .orderBy(asc(nodeEpochs.nodeId))
      .all();
  }

  /**
   * Computes PoOT and work credits of every node for a finished epoch (once: a closed epoch is
   * never recomputed) from what the server observed, then accrues it (balance, chain transaction,
   * due payouts) or holds it for review when the node's report disagrees (an admin alert).
   * Throws when a session cannot be asked: nothing is written, the alarm retries.
   */
  async closeEpoch(epoch: number): Promise<{ nodeId: string; credits: number; operationalSeconds: number; status: string }[]> {
    await this.ready();
    const config = this.#config;
    const window = epochWindow(epoch, config.EPOCH_SECONDS, config.HEARTBEAT_INTERVAL_SECONDS);
    const now = Date.now();
    const open = nodesToClose(this.db, epoch, window);
    const observed = new Map<string, ObservedWork>();
    for (const node of open) observed.set(node.id, await observeNode(this.env, this.db, node.id, window, now));
    const results = this.ctx.storage.transactionSync(() => {
      const out: { nodeId: string; credits: number; operationalSeconds: number; status: string }[] = [];
      for (const node of open) {
        const row = settleEpoch(this.db, this.#node(node.id)!, epoch, window, observed.get(node.id)!, config, now);
        if (row) out.push({ nodeId: node.id, credits: row.credits, operationalSeconds: row.operationalSeconds, status: row.status });
      }
      const last = this.#lastClosedEpoch();
      if (epoch > last) this.db.update(meta).set({ value: epoch }).where(eq(meta.key, LAST_CLOSED_EPOCH)).run();
      return out;
    });
    await this.#raiseHeldAlerts();
    await this.#ensureAlarm(now);
    return results;
  }

  /** Held epochs of this pool (all nodes), newest first, for the admin's review. */
  async heldEpochs(limit: number): Promise<(EpochView & { nodeId: string })[]> {
    await this.ready();
    return heldEpochRows(this.db, limit).map((row) => ({ nodeId: row.nodeId, ...epochView(row, this.#config.EPOCH_SECONDS) }));
  }

  /** An admin's decision on a held epoch: `release` accrues it as observed (never as reported), `reject` drops it. */
  async reviewEpoch({
    nodeId,
    epoch,
    decision,
    actor,
  }: {
    nodeId: string;
    epoch: number;
    decision: "release" | "reject";
    actor: string;
  }): Promise<Outcome<EpochView>> {
    await this.ready();
    const config = this.#config;
    const node = this.#node(nodeId);
    if (!node) return refuse("not-found", `No node ${nodeId}.`);
    const now = Date.now();
    const reviewed = this.ctx.storage.transactionSync(() => reviewHeldEpoch(this.db, node, epoch, decision, actor, config, now));
    if (!reviewed.ok) return reviewed;
    if (decision === "release") await this.#ensureAlarm(now);
    return ok(epochView(reviewed.value, config.EPOCH_SECONDS));
  }

  override async alarm(): Promise<void> {
    await this.ready();
    const config = this.#config;
    const now = Date.now();
    this.#markSilentNodesOffline(now);
    const epochMs = config.EPOCH_SECONDS * 1000;
    try {
      for (let epoch = this.#lastClosedEpoch() + 1; (epoch + 1) * epochMs + this.#epochCloseDelayMs() <= now; epoch++) {
        await this.closeEpoch(epoch);
      }
    } catch (error) {
      // A session could not be asked: the epoch stays open and an alarm a minute later tries again.
      this.#closeRetryAt = now + 60_000;
      logEvent("warn", "nodes.epoch_close_failed", { error: String(error) }, config.LOG_LEVEL);
    }
    await this.#raiseHeldAlerts();
    // Beats older than the open epoch's look-back are no longer needed by any computation.
    const keepFrom = (this.#lastClosedEpoch() + 1) * epochMs - this.#offlineAfterMs();
    this.db
      .delete(heartbeats)
      .where(lte(heartbeats.at, keepFrom - 1))
      .run();
    await deliverDuePayouts(this.db, this.ctx.storage, payoutGatewayFrom(this.env), now);
    await this.#scheduleNextAlarm();
  }

  // ── internals ────────────────────────────────────────────────────────────

  /** Sequence window, challenge, clock and Ed25519 signature (bench/workers/heartbeats.ts overrides it for its unsigned baseline). */
  protected refuseHeartbeat(node: NodeRow, beat: Heartbeat, now: number, limits: BeatLimits): Refusal | null {
    return heartbeatRefusal({ ...node, challenge: node.heartbeatChallenge }, beat, now, limits);
  }

  async #raiseHeldAlerts(): Promise<void> {
    try {
      await alertHeldEpochs(this.env, this.db, BigInt(this.#config.CREDIT_USDT_UNITS));
    } catch (error) {
      logEvent("warn", "nodes.alert_failed", { error: String(error) }, this.#config.LOG_LEVEL);
    }
  }

  /** After a failed epoch close, not before this (in memory: a restart simply retries at once). */
  #closeRetryAt = 0;

  #node(nodeId: string): NodeRow | undefined {
    return this.db.select().from(nodes).where(eq(nodes.id, nodeId)).get();
  }

  #lastClosedEpoch(): number {
    return this.db.select().from(meta).where(eq(meta.key, LAST_CLOSED_EPOCH)).get()?.value ?? 0;
  }

  /** A gap over two intervals counts as down (and as offline). */
  #offlineAfterMs(): number {
    return 2 * this.#config.HEARTBEAT_INTERVAL_SECONDS * 1000;
  }

  /** An epoch closes once the beats that may still extend its last span had time to arrive. */
  #epochCloseDelayMs(): number {
    return this.#offlineAfterMs() + 1000;
  }

  #credentialStatus(node: NodeRow, jti: string, now: number): CredentialStatus {
    const row = this.db.select().from(credentials).where(eq(credentials.jti, jti)).get();
    const state = node.state as NodeState;
    if (!row || row.nodeId !== node.id) return { valid: false, reason: "The credential is unknown for this node.", state };
    if (row.revokedAt !== null) return { valid: false, reason: "The credential was revoked.", state };
    if (row.expiresAt <= now) return { valid: false, reason: "The credential expired.", state };
    if (state === "suspended" || state === "terminated") return { valid: false, reason: `The node is ${state}.`, state };
    return { valid: true, state };
  }

  #transition(node: NodeRow, to: NodeState, reason: string, actor: string | null, at: number): void {
    const from = node.state as NodeState;
    if (!canTransition(from, to)) throw new Error(`invalid node transition ${from} → ${to}`);
    this.db.update(nodes).set({ state: to, stateChangedAt: at }).where(eq(nodes.id, node.id)).run();
    this.#logEvent(node.id, node.pool, from, to, reason, actor, at);
  }

  #logEvent(nodeId: string, pool: string, from: NodeState | null, to: NodeState, reason: string, actor: string | null, at: number): void {
    const { id } = this.db
      .insert(nodeEvents)
      .values({ nodeId, fromState: from, toState: to, reason, actor, at })
      .returning({ id: nodeEvents.id })
      .get();
    // Liveness flaps (heartbeat-driven) are not chain events; lifecycle changes are.
    if (reason === "heartbeat" || reason === "heartbeat-resumed" || reason === "missed-heartbeats") return;
    const tx: NodeEventTx = {
      type: "node-event",
      version: 1,
      id: `node-event:${nodeId}:${id}`,
      nodeId,
      pool,
      from,
      to,
      reason,
      at: new Date(at).toISOString(),
    };
    this.db.insert(chainOutbox).values({ id: tx.id, payload: tx, createdAt: at }).run();
  }

  #markSilentNodesOffline(now: number): void {
    const deadline = now - this.#offlineAfterMs();
    const silent = this.db
      .select()
      .from(nodes)
      .where(and(inArray(nodes.state, ["active", "idle", "working"]), lte(nodes.lastHeartbeatAt, deadline)))
      .all();
    if (silent.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const node of silent) this.#transition(node, "offline", "missed-heartbeats", null, now);
    });
    logEvent("info", "nodes.offline", { nodes: silent.map((n) => n.id) }, this.#config.LOG_LEVEL);
  }

  async #ensureAlarm(at: number): Promise<void> {
    await wakeBy(this.ctx.storage, at);
  }

  async #scheduleNextAlarm(): Promise<void> {
    const candidates: number[] = [];
    const online = this.db
      .select({ at: min(nodes.lastHeartbeatAt) })
      .from(nodes)
      .where(inArray(nodes.state, ["active", "idle", "working"]))
      .get();
    if (online?.at != null) candidates.push(Number(online.at) + this.#offlineAfterMs() + 1);
    if (
      this.db
        .select({ id: nodeEpochs.nodeId })
        .from(nodeEpochs)
        .where(and(eq(nodeEpochs.status, "held"), isNull(nodeEpochs.alertedAt)))
        .limit(1)
        .get()
    ) {
      candidates.push(Date.now() + 60_000); // an alert still to raise
    }
    const retry = this.db
      .select({ at: min(payoutOutbox.nextAttemptAt) })
      .from(payoutOutbox)
      .where(eq(payoutOutbox.status, "queued"))
      .get();
    if (retry?.at != null) candidates.push(Number(retry.at));
    const anyNode = this.db.select({ id: nodes.id }).from(nodes).limit(1).get();
    if (anyNode)
      candidates.push(
        Math.max(this.#closeRetryAt, (this.#lastClosedEpoch() + 2) * this.#config.EPOCH_SECONDS * 1000 + this.#epochCloseDelayMs()),
      );
    if (candidates.length > 0) await this.ctx.storage.setAlarm(Math.max(Date.now(), Math.min(...candidates)));
  }
}
