import { asc, eq, lte } from "drizzle-orm";
import { z } from "zod";
import { loadConfig } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import { MerkleTree, toHex } from "../../shared/merkle/index.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import {
  anchorSchema,
  anchorWithdrawalSchema,
  canTransition,
  chunkLeafHashes,
  MANIFEST_VERSION,
  type Anchor,
  type Manifest,
  type SessionState,
} from "../../shared/session.ts";
import { chunkStoreFor, type ChunkStore } from "../../platform/chunk-store/index.ts";
import { SqlDurableObject } from "../base.ts";
import { actorLabel, allowed, type Access, type Actor } from "./access.ts";
import { newDataKey, toBase64, unwrapDataKey, wrapDataKey } from "./data-key.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";
import { usageOf, type SessionUsage } from "./usage.ts";
import { createShare, listShares, type ShareInput, type ShareView } from "./shares.ts";
import type { SessionKit } from "./kit.ts";
import { heldProblem, isHeld, liftHold, placeHold } from "./hold.ts";
import { notifyScrub, recordReadDamage, scrub, type DamageReport, type IntegrityResult, type IntegritySource } from "./integrity.ts";
import { backoffMs, MAX_PIPELINE_ATTEMPTS, UPLOAD_TIMEOUT_MS, type TaskName } from "./tasks.ts";
import {
  toManifestChunk,
  toSummary,
  toView,
  type ChunkStats,
  type EventRow,
  type SessionRow,
  type SessionView,
} from "./view.ts";

export type { Actor } from "./access.ts";
export type { SessionView } from "./view.ts";

export interface CreateSessionInput {
  id: string;
  ownerId: string;
  nodeId: string;
  title: string;
  tags: string[];
  notes: string;
  rdp: Record<string, number | boolean>;
}

/** One RDP state change as the session's status stream carries it (RdpHostDO → SessionDO). */
export interface RdpStatusUpdate {
  serverId: string;
  hostId: string;
  server: string;
  connection: string | null;
  reason: string | null;
  at: string;
}

export interface ChunkMeta {
  nonce: string;
  plainSize: number;
  compressedSize: number;
  captureStart: number;
  captureEnd: number;
}

export interface ChunkReceiptValue {
  sessionId: string;
  index: number;
  sha256: string;
  size: number;
  receivedAt: number;
}

export type BeginUpload =
  | { kind: "stored"; receipt: ChunkReceiptValue }
  | { kind: "upload"; uploadId: string; storeKey: string };

export interface InclusionProofValue {
  index: number;
  treeSize: number;
  sha256: string;
  leafHash: string;
  root: string;
  path: string[];
}

export interface ConsistencyProofValue {
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
}

const liveClientMessage = z.object({ type: z.literal("ping") }).strict();
const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const manifestKey = (sessionId: string) => `sessions/${sessionId}/manifest.json`;
const chunkKeyPrefix = (sessionId: string) => `sessions/${sessionId}/chunks/`;

/**
 * One recording session: its state machine and event log, its chunks' metadata, its wrapped
 * data key and the alarm-driven pipeline (verify chunks → manifest → anchor → completed).
 * Everything lives in this object's SQLite, so a restart resumes where it stopped: the alarm
 * and the `tasks` table survive, and in-memory state is only a cache of nothing.
 */
export class SessionDO extends SqlDurableObject<typeof schema, Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    // Named by the session id in the URL: a request for one that does not exist writes nothing.
    super(ctx, env, schema, migrations, { dormantUntilCreated: true });
  }

  get #store(): ChunkStore {
    return chunkStoreFor(this.env);
  }

  get #config() {
    return loadConfig(this.env);
  }

  get #kit(): SessionKit {
    return {
      db: this.db,
      transaction: (fn) => this.ctx.storage.transactionSync(fn),
      event: (kind, actor, detail) => this.#event(kind, actor, detail),
    };
  }

  #row(): SessionRow | undefined {
    return this.dormant ? undefined : this.db.select().from(schema.session).get();
  }

  #stats(): ChunkStats {
    const rows = this.db
      .select({ index: schema.chunks.index, size: schema.chunks.size })
      .from(schema.chunks)
      .orderBy(asc(schema.chunks.index))
      .all();
    let contiguous = 0;
    while (contiguous < rows.length && rows[contiguous]!.index === contiguous) contiguous++;
    return { count: rows.length, contiguous, bytes: rows.reduce((sum, r) => sum + r.size, 0) };
  }

  #view(row: SessionRow): SessionView {
    return toView(row, this.#stats());
  }

  /** The session if the actor may do `access` to it. */
  #authorize(actor: Actor, access: Access): Outcome<SessionRow> {
    const row = this.#row();
    if (!row) return refuse("not-found", "No such session.");
    const verdict = allowed(actor, access, row);
    return verdict.ok ? ok(row) : verdict;
  }

  #event(kind: string, actor: Actor | "system", detail?: unknown, from?: SessionState, to?: SessionState): void {
    this.db
      .insert(schema.events)
      .values({
        at: Date.now(),
        kind,
        actor: actorLabel(actor),
        fromState: from ?? null,
        toState: to ?? null,
        detail: detail === undefined ? null : JSON.stringify(detail),
      })
      .run();
  }

  /** Validated, timestamped transition with its event; call inside a transaction. */
  #transition(row: SessionRow, to: SessionState, actor: Actor | "system", detail?: unknown, extra: Partial<SessionRow> = {}) {
    if (!canTransition(row.state, to)) throw new Error(`illegal transition ${row.state} → ${to}`);
    const now = Date.now();
    this.db
      .update(schema.session)
      .set({ ...extra, state: to, version: row.version + 1, updatedAt: now })
      .where(eq(schema.session.id, row.id))
      .run();
    this.#event("transition", actor, detail, row.state, to);
    logEvent("info", "session.transition", { sessionId: row.id, from: row.state, to }, this.#config.LOG_LEVEL);
  }

  // ---- live status (WebSocket hibernation API) ------------------------------------------------

  /**
   * Upgrades a request the route has already authorized into a status stream: the current
   * status at once, then one message per change. Hibernation-safe: sockets are found again
   * through getWebSockets(), nothing is kept in memory.
   */
  override async fetch(request: Request): Promise<Response> {
    await this.ready();
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response(null, { status: 426 });
    const row = this.#row();
    if (!row) return new Response(null, { status: 404 });
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.send(JSON.stringify(this.#statusMessage(row)));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // The stream is one-way; a client may only ping.
    if (typeof message === "string" && liveClientMessage.safeParse(safeJson(message)).success) {
      ws.send(JSON.stringify({ type: "pong" }));
    } else {
      ws.close(1003, "only {\"type\":\"ping\"} is accepted");
    }
  }

  #statusMessage(row: SessionRow) {
    const view = this.#view(row);
    return {
      type: "status" as const,
      sessionId: view.id,
      state: view.state,
      version: view.version,
      chunks: view.chunks,
      merkleRoot: view.merkleRoot,
      keyShredded: view.keyShredded,
      updatedAt: new Date(view.updatedAt).toISOString(),
    };
  }

  #broadcast(): void {
    const sockets = this.ctx.getWebSockets();
    if (!sockets.length) return;
    const row = this.#row();
    if (!row) return;
    const text = JSON.stringify(this.#statusMessage(row));
    for (const ws of sockets) {
      try {
        ws.send(text);
      } catch {
        // A closing socket: the runtime drops it.
      }
    }
  }

  /**
   * An RDP desktop of this session changed state (RdpHostDO calls this): recorded as an `rdp`
   * event and pushed to every live status stream as `{ type: "rdp", … }`. The session's own
   * state is not touched.
   */
  async rdpStatus(update: RdpStatusUpdate): Promise<Outcome<void>> {
    await this.ready();
    const row = this.#row();
    if (!row) return refuse("not-found", "No such session.");
    this.#event("rdp", "system", update);
    const text = JSON.stringify({ type: "rdp" as const, sessionId: row.id, ...update });
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {
        // A closing socket: the runtime drops it.
      }
    }
    return ok(undefined);
  }

  // ---- lifecycle ------------------------------------------------------------------------

  async create(input: CreateSessionInput): Promise<Outcome<SessionView>> {
    await this.materialize();
    if (this.#row()) return refuse("conflict", "A session with this id already exists.");
    const config = this.#config;
    const now = Date.now();
    const wrappedKey = await wrapDataKey(config.SESSION_KEK, input.id, newDataKey());
    const expiresAt = now + config.RETENTION_DAYS * 86_400_000;
    this.ctx.storage.transactionSync(() => {
      this.db
        .insert(schema.session)
        .values({
          id: input.id,
          ownerId: input.ownerId,
          nodeId: input.nodeId,
          title: input.title,
          tags: JSON.stringify(input.tags),
          notes: input.notes,
          rdp: JSON.stringify(input.rdp),
          state: "created",
          version: 1,
          createdAt: now,
          updatedAt: now,
          expiresAt,
          wrappedKey,
        })
        .run();
      this.#event("created", { kind: "user", userId: input.ownerId, role: "USER" }, { nodeId: input.nodeId }, undefined, "created");
      this.#schedule("retention", expiresAt);
    });
    await this.#syncIndex();
    await this.#armAlarm();
    return ok(this.#view(this.#row()!));
  }

  async get(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    return row.ok ? ok(this.#view(row.value)) : row;
  }

  /** For the node pool closing an epoch: what this session saw of `nodeId`'s work in [fromMs, toMs); null if it does not exist. */
  async usage(nodeId: string, fromMs: number, toMs: number): Promise<SessionUsage | null> {
    await this.ready();
    if (this.dormant) return null;
    return usageOf(this.db, nodeId, fromMs, toMs, Date.now());
  }

  async events(actor: Actor): Promise<Outcome<EventRow[]>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    if (!row.ok) return row;
    return ok(this.db.select().from(schema.events).orderBy(asc(schema.events.seq)).all());
  }

  async start(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    const row = this.#authorize(actor, "control");
    if (!row.ok) return row;
    if (row.value.state !== "created") return stateProblem(row.value, "start", ["created"]);
    this.ctx.storage.transactionSync(() => this.#transition(row.value, "recording", actor, undefined, { startedAt: Date.now() }));
    await this.#syncIndex();
    return ok(this.#view(this.#row()!));
  }

  /**
   * Ends the recording and finalizes: refused (state unchanged, uploads still accepted) while
   * any index below the final count is missing. `chunkCount` is what the agent produced; by
   * default the highest stored index + 1.
   */
  async stop(actor: Actor, chunkCount?: number): Promise<Outcome<SessionView>> {
    await this.ready();
    const row = this.#authorize(actor, "control");
    if (!row.ok) return row;
    if (row.value.state !== "recording") return stateProblem(row.value, "stop", ["recording"]);
    const indices = this.db.select({ index: schema.chunks.index }).from(schema.chunks).orderBy(asc(schema.chunks.index)).all();
    const highest = indices.length ? indices[indices.length - 1]!.index : -1;
    const treeSize = chunkCount ?? highest + 1;
    if (highest >= treeSize) {
      return refuse("conflict", `Chunks up to index ${highest} are stored but chunkCount is ${treeSize}.`, { highestIndex: highest });
    }
    const present = new Set(indices.map((r) => r.index));
    const missing: number[] = [];
    for (let i = 0; i < treeSize && missing.length < 1000; i++) if (!present.has(i)) missing.push(i);
    if (missing.length) {
      return refuse("missing-chunks", `${missing.length} chunk(s) below ${treeSize} are missing.`, { missing, treeSize });
    }
    this.ctx.storage.transactionSync(() => {
      this.#transition(row.value, "processing", actor, { treeSize }, { stoppedAt: Date.now(), treeSize });
      this.#schedule("pipeline", Date.now());
    });
    await this.#sweepUploads(true);
    await this.#syncIndex();
    await this.#armAlarm();
    return ok(this.#view(this.#row()!));
  }

  /** Deleting keeps the record, manifest and proofs but deletes the chunks and destroys the key. */
  async remove(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    const row = this.#authorize(actor, "delete");
    if (!row.ok) return row;
    if (isHeld(row.value)) return heldProblem(row.value);
    if (row.value.deletedAt === null) {
      this.ctx.storage.transactionSync(() => {
        if (["created", "recording", "processing"].includes(row.value.state)) {
          this.#transition(row.value, "cancelled", actor, { reason: "deleted" });
          this.db.delete(schema.tasks).where(eq(schema.tasks.name, "pipeline")).run();
        }
        this.db.update(schema.session).set({ deletedAt: Date.now() }).run();
        this.#shred(actor, "deleted");
      });
      await this.#purge();
      await this.#syncIndex();
      await this.#armAlarm();
    }
    return ok(this.#view(this.#row()!));
  }

  /**
   * Called by the chain once the session's root is in a block: stored → anchored. Called again
   * when a reorg moved the anchor to another block (or re-included it after a withdrawal): an
   * anchored or completed session then records where the chain has it now (#followChainAnchor),
   * in its manifest too.
   */
  async recordAnchor(anchorInput: Anchor): Promise<Outcome<SessionView>> {
    await this.ready();
    const anchor = anchorSchema.safeParse(anchorInput);
    if (!anchor.success) return refuse("validation-failed", "The anchor is malformed.");
    const row = this.#row();
    if (!row) return refuse("not-found", "No such session.");
    if (row.state === "anchored" || row.state === "completed") return this.#followChainAnchor(row);
    if (row.state !== "stored") return stateProblem(row, "anchor", ["stored"]);
    this.ctx.storage.transactionSync(() => {
      this.#transition(row, "anchored", "system", anchor.data, { anchor: JSON.stringify(anchor.data) });
      this.#schedule("pipeline", Date.now());
    });
    await this.#syncIndex();
    await this.#armAlarm();
    return ok(this.#view(this.#row()!));
  }

  /**
   * Called by the chain when a reorg returned the session's final anchor to its mempool: the
   * session keeps its state but has no anchor (manifest included) until recordAnchor tells it the
   * block that includes it again. Before any anchor (stored) it changes nothing.
   */
  async withdrawAnchor(input: { chain: string; txId: string }): Promise<Outcome<SessionView>> {
    await this.ready();
    const notice = anchorWithdrawalSchema.safeParse(input);
    if (!notice.success) return refuse("validation-failed", "The withdrawal is malformed.");
    const row = this.#row();
    if (!row) return refuse("not-found", "No such session.");
    if (row.state !== "anchored" && row.state !== "completed") return ok(this.#view(row));
    return this.#followChainAnchor(row);
  }

  /**
   * After a reorg the chain's notices only say "look again": the session records where the chain
   * has its final anchor now (null while it waits in the mempool). Asking rather than trusting the
   * notice's content means a late, stale notice can never move the anchor back to a dropped block.
   */
  async #followChainAnchor(row: SessionRow): Promise<Outcome<SessionView>> {
    const chain = this.env.CHAIN.get(this.env.CHAIN.idFromName("lucid-chain"));
    const found = await chain.anchorEvidence(row.id);
    const anchor: Anchor | null =
      found && "block" in found && !found.tx.interim
        ? { chain: found.block.header.chain, blockHeight: found.block.header.height, blockHash: found.block.hash, txId: found.txId, anchoredAt: new Date(found.block.header.timestamp).toISOString() }
        : null;
    return this.#moveAnchor(this.#row()!, anchor);
  }

  /** Records where the final anchor is now (null: waiting for a block again) and rewrites a written manifest. */
  async #moveAnchor(row: SessionRow, anchor: Anchor | null): Promise<Outcome<SessionView>> {
    const text = anchor ? JSON.stringify(anchor) : null;
    if (row.anchor !== text) {
      this.ctx.storage.transactionSync(() => {
        this.db.update(schema.session).set({ anchor: text, version: row.version + 1, updatedAt: Date.now() }).where(eq(schema.session.id, row.id)).run();
        this.#event(anchor ? "anchor-moved" : "anchor-withdrawn", "system", { from: row.anchor ? JSON.parse(row.anchor) : null, to: anchor });
      });
      logEvent("info", anchor ? "session.anchor_moved" : "session.anchor_withdrawn", { sessionId: row.id, txId: anchor?.txId }, this.#config.LOG_LEVEL);
    }
    const updated = this.#row()!;
    // The manifest object is written on completion; a repeat rewrites it (a failed write is retried by the chain).
    if (updated.state === "completed") await this.#writeManifest(updated.id, this.#manifest(updated));
    await this.#syncIndex();
    return ok(this.#view(updated));
  }

  // ---- data key ---------------------------------------------------------------------------

  /** The plain data key (base64) for the assigned node (to encrypt) and the owner; admins get shares (./shares.ts). */
  async releaseKey(actor: Actor): Promise<Outcome<{ key: string; algorithm: string }>> {
    await this.ready();
    const row = this.#authorize(actor, "key");
    if (!row.ok) return row;
    if (!row.value.wrappedKey) return refuse("gone", "The session's data key was destroyed.");
    const key = await unwrapDataKey(this.#config.SESSION_KEK, row.value.id, row.value.wrappedKey);
    this.ctx.storage.transactionSync(() => this.#event("key-released", actor));
    return ok({ key: toBase64(key), algorithm: "XChaCha20-Poly1305" });
  }

  /** Wraps the data key for a named recipient (owner or admin; the route enforces step-up for admins) and keeps the share. */
  async createShare(actor: Actor, input: ShareInput): Promise<Outcome<ShareView>> {
    await this.ready();
    const row = this.#authorize(actor, "share");
    if (!row.ok) return row;
    return createShare(this.#kit, row.value, actor, input, (wrapped) => unwrapDataKey(this.#config.SESSION_KEK, row.value.id, wrapped));
  }

  /** The session's shares: wrapped envelopes only. */
  async shares(actor: Actor): Promise<Outcome<ShareView[]>> {
    await this.ready();
    const row = this.#authorize(actor, "share");
    return row.ok ? ok(listShares(this.db)) : row;
  }

  // ---- chunk ingest -----------------------------------------------------------------------

  /** First half of an upload: checks the node, state and index, and reserves a blob key. */
  async beginUpload(actor: Actor, index: number, sha256: string): Promise<Outcome<BeginUpload>> {
    await this.ready();
    const row = this.#authorize(actor, "upload");
    if (!row.ok) return row;
    if (row.value.state !== "recording") return stateProblem(row.value, "upload chunks to", ["recording"]);
    const existing = this.db.select().from(schema.chunks).where(eq(schema.chunks.index, index)).get();
    if (existing) {
      if (existing.sha256 !== sha256) return chunkConflict(index, existing.sha256);
      return ok({ kind: "stored", receipt: receipt(row.value.id, existing) });
    }
    const uploadId = crypto.randomUUID();
    const storeKey = `${chunkKeyPrefix(row.value.id)}${String(index).padStart(10, "0")}/${uploadId}`;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.db.insert(schema.uploads).values({ id: uploadId, index, sha256, storeKey, startedAt: now }).run();
      this.#schedule("sweep", now + UPLOAD_TIMEOUT_MS, true);
    });
    await this.#armAlarm();
    return ok({ kind: "upload", uploadId, storeKey });
  }

  /** Second half: the blob is in the store with this digest. The first commit for an index wins. */
  async commitUpload(
    actor: Actor,
    uploadId: string,
    chunk: { sha256: string; size: number } & ChunkMeta,
  ): Promise<Outcome<{ created: boolean; receipt: ChunkReceiptValue }>> {
    await this.ready();
    const row = this.#authorize(actor, "upload");
    if (!row.ok) return row;
    const upload = this.db.select().from(schema.uploads).where(eq(schema.uploads.id, uploadId)).get();
    if (!upload) return refuse("conflict", "The upload expired before it completed; send the chunk again.");
    let outcome: Outcome<{ created: boolean; receipt: ChunkReceiptValue }>;
    let interimDue = false;
    this.ctx.storage.transactionSync(() => {
      this.db.delete(schema.uploads).where(eq(schema.uploads.id, uploadId)).run();
      const existing = this.db.select().from(schema.chunks).where(eq(schema.chunks.index, upload.index)).get();
      if (row.value.state !== "recording") {
        outcome = stateProblem(row.value, "upload chunks to", ["recording"]);
      } else if (existing) {
        outcome =
          existing.sha256 === chunk.sha256
            ? ok({ created: false, receipt: receipt(row.value.id, existing) })
            : chunkConflict(upload.index, existing.sha256);
      } else {
        const stored = { ...chunk, index: upload.index, storeKey: upload.storeKey, receivedAt: Date.now() };
        const before = this.#contiguousSha256s().length;
        this.db.insert(schema.chunks).values(stored).run();
        // Rolling anchors: each time the contiguous prefix crosses a multiple of the interval,
        // its root goes to the chain, so a recording cut short later is provably longer.
        const every = this.#config.CHAIN_INTERIM_ANCHOR_CHUNKS;
        if (every > 0 && Math.floor(this.#contiguousSha256s().length / every) > Math.floor(before / every)) {
          this.#schedule("interim", Date.now());
          interimDue = true;
        }
        this.#event("chunk-stored", actor, { index: upload.index, sha256: chunk.sha256, size: chunk.size });
        outcome = ok({ created: true, receipt: receipt(row.value.id, stored) });
        this.#broadcast();
        return;
      }
      this.db.insert(schema.discards).values({ storeKey: upload.storeKey, addedAt: Date.now() }).onConflictDoNothing().run();
    });
    if (interimDue) await this.#armAlarm();
    await this.#purge();
    return outcome!;
  }

  /** The upload failed (digest or length mismatch, broken stream): forget it and delete its blob. */
  async abortUpload(actor: Actor, uploadId: string, reason: string): Promise<void> {
    await this.ready();
    const row = this.#authorize(actor, "upload");
    if (!row.ok) return;
    const upload = this.db.select().from(schema.uploads).where(eq(schema.uploads.id, uploadId)).get();
    if (!upload) return;
    this.ctx.storage.transactionSync(() => {
      this.db.delete(schema.uploads).where(eq(schema.uploads.id, uploadId)).run();
      this.db.insert(schema.discards).values({ storeKey: upload.storeKey, addedAt: Date.now() }).onConflictDoNothing().run();
      this.#event("chunk-rejected", actor, { index: upload.index, reason });
    });
    await this.#purge();
  }

  // ---- reading chunks, manifest and proofs --------------------------------------------------

  /** Where a chunk's blob is, for download. */
  async chunkLocation(actor: Actor, index: number): Promise<Outcome<{ storeKey: string; size: number; sha256: string; damaged: boolean }>> {
    await this.ready();
    const row = this.#authorize(actor, "download");
    if (!row.ok) return row;
    const chunk = this.db.select().from(schema.chunks).where(eq(schema.chunks.index, index)).get();
    if (!chunk) return refuse("not-found", `Chunk ${index} is not stored.`);
    if (row.value.shreddedAt !== null) return refuse("gone", "The session's chunks were deleted.");
    return ok({ storeKey: chunk.storeKey, size: chunk.size, sha256: chunk.sha256, damaged: chunk.damagedAt !== null });
  }

  async manifest(actor: Actor): Promise<Outcome<Manifest>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    if (!row.ok) return row;
    if (row.value.merkleRoot === null) {
      return refuse("invalid-state", "The manifest exists once the session is stored.", { state: row.value.state });
    }
    return ok(this.#manifest(row.value));
  }

  /** Inclusion proof of chunk `index` in the tree of the first `treeSize` chunks (default: the final tree, or all contiguous chunks while recording). */
  async inclusionProof(actor: Actor, index: number, treeSize?: number): Promise<Outcome<InclusionProofValue>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    if (!row.ok) return row;
    const leaves = this.#contiguousSha256s();
    const size = treeSize ?? row.value.treeSize ?? leaves.length;
    if (size > leaves.length || size < 1) {
      return refuse("conflict", `A tree of ${size} chunks does not exist yet; ${leaves.length} contiguous chunks are stored.`, {
        contiguous: leaves.length,
      });
    }
    if (index >= size) return refuse("not-found", `Chunk ${index} is not in the tree of ${size} chunks.`);
    const tree = MerkleTree.fromLeafHashes(chunkLeafHashes(leaves.slice(0, size)));
    return ok({
      index,
      treeSize: size,
      sha256: leaves[index]!,
      leafHash: toHex(tree.leafHash(index)),
      root: toHex(tree.root()),
      path: tree.inclusionProof(index).map(toHex),
    });
  }

  /** Consistency proof between the interim roots of the first `from` and `to` chunks. */
  async consistencyProof(actor: Actor, from: number, to?: number): Promise<Outcome<ConsistencyProofValue>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    if (!row.ok) return row;
    const leaves = this.#contiguousSha256s();
    const size = to ?? row.value.treeSize ?? leaves.length;
    if (size > leaves.length) {
      return refuse("conflict", `A tree of ${size} chunks does not exist yet; ${leaves.length} contiguous chunks are stored.`, {
        contiguous: leaves.length,
      });
    }
    if (from < 1 || from > size) return refuse("bad-request", `from must be between 1 and ${size}.`);
    const hashes = chunkLeafHashes(leaves.slice(0, size));
    const tree = MerkleTree.fromLeafHashes(hashes);
    return ok({
      from,
      to: size,
      fromRoot: toHex(MerkleTree.fromLeafHashes(hashes.slice(0, from)).root()),
      toRoot: toHex(tree.root()),
      proof: tree.consistencyProof(from).map(toHex),
    });
  }

  #contiguousSha256s(): string[] {
    const rows = this.db
      .select({ index: schema.chunks.index, sha256: schema.chunks.sha256 })
      .from(schema.chunks)
      .orderBy(asc(schema.chunks.index))
      .all();
    const out: string[] = [];
    for (const r of rows) {
      if (r.index !== out.length) break;
      out.push(r.sha256);
    }
    return out;
  }

  #manifest(row: SessionRow): Manifest {
    const chunks = this.db.select().from(schema.chunks).orderBy(asc(schema.chunks.index)).all();
    const treeSize = row.treeSize ?? chunks.length;
    const included = chunks.slice(0, treeSize).map(toManifestChunk);
    return {
      version: MANIFEST_VERSION,
      sessionId: row.id,
      tree: "rfc9162-sha256",
      treeSize,
      root: toHex(MerkleTree.fromLeafHashes(chunkLeafHashes(included.map((c) => c.sha256))).root()),
      chunks: included,
      createdAt: new Date(row.stoppedAt ?? row.updatedAt).toISOString(),
      anchor: row.anchor ? (JSON.parse(row.anchor) as Anchor) : null,
    };
  }

  // ---- legal hold (./hold.ts) --------------------------------------------------------------

  /** ADMIN (the route's guard checked the role): hold the session with a reason; a repeat replaces the reason. */
  async hold(actor: Actor, reason: string): Promise<Outcome<SessionView>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    if (!row.ok) return row;
    const held = placeHold(this.#kit, row.value, actor, reason);
    if (!held.ok) return held;
    await this.#syncIndex();
    return ok(this.#view(this.#row()!));
  }

  /** Lifts the hold; retention runs again (at once if the session expired meanwhile). */
  async liftHold(actor: Actor): Promise<Outcome<SessionView>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    if (!row.ok) return row;
    const lifted = liftHold(this.#kit, row.value, actor, (dueAt) => this.#schedule("retention", dueAt));
    if (!lifted.ok) return lifted;
    await this.#armAlarm();
    await this.#syncIndex();
    return ok(this.#view(this.#row()!));
  }

  // ---- integrity at rest (./integrity.ts) -----------------------------------------------------

  /** A download found a stored chunk that differs from what was received: mark it, log it on the session. */
  async reportDamage(input: DamageReport): Promise<Outcome<IntegrityResult>> {
    await this.ready();
    if (!this.#row()) return refuse("not-found", "No such session.");
    const result = recordReadDamage(this.#kit, input);
    if (result.ok) await this.#syncIndex();
    return result;
  }

  /** Re-hashes every stored chunk now (POST …/integrity-check, ADMIN; the route's guard checked the role). */
  async checkIntegrity(actor: Actor): Promise<Outcome<IntegrityResult>> {
    await this.ready();
    const row = this.#authorize(actor, "view");
    if (!row.ok) return row;
    if (row.value.shreddedAt !== null) return refuse("gone", "The session's chunks were deleted.");
    return ok(await this.#scrub("request", actor));
  }

  async #scrub(source: IntegritySource, actor: Actor | "system"): Promise<IntegrityResult> {
    const result = await scrub(this.#kit, this.#store, source, actor);
    await notifyScrub(this.env, this.#row()!.id, result);
    await this.#syncIndex();
    return result;
  }

  /** The scheduled scrub: again after INTEGRITY_SCRUB_INTERVAL_SECONDS, until the chunks are gone. */
  async #scheduledScrub(): Promise<number | undefined> {
    const row = this.#row();
    const every = this.#config.INTEGRITY_SCRUB_INTERVAL_SECONDS;
    if (!row || row.shreddedAt !== null || every === 0) return undefined;
    await this.#scrub("scrub", "system");
    return Date.now() + every * 1000;
  }

  // ---- alarm-driven work --------------------------------------------------------------------

  #schedule(name: TaskName, dueAt: number, keepEarlier = false): void {
    const existing = this.db.select().from(schema.tasks).where(eq(schema.tasks.name, name)).get();
    if (existing && keepEarlier && existing.dueAt <= dueAt) return;
    this.db
      .insert(schema.tasks)
      .values({ name, dueAt, attempts: 0 })
      .onConflictDoUpdate({ target: schema.tasks.name, set: { dueAt, attempts: 0, lastError: null } })
      .run();
  }

  async #armAlarm(): Promise<void> {
    const next = this.db.select({ dueAt: schema.tasks.dueAt }).from(schema.tasks).orderBy(asc(schema.tasks.dueAt)).get();
    if (next) await this.ctx.storage.setAlarm(next.dueAt);
    else await this.ctx.storage.deleteAlarm();
  }

  /** Pending alarm work, for operators and tests. */
  async pendingTasks(): Promise<(typeof schema.tasks.$inferSelect)[]> {
    await this.ready();
    if (this.dormant) return [];
    return this.db.select().from(schema.tasks).orderBy(asc(schema.tasks.dueAt)).all();
  }

  override async alarm(): Promise<void> {
    await this.ready();
    if (this.dormant) return; // never created: nothing was scheduled
    const now = Date.now();
    const due = this.db.select().from(schema.tasks).where(lte(schema.tasks.dueAt, now)).orderBy(asc(schema.tasks.dueAt)).all();
    for (const task of due) {
      try {
        const next = await this.#runTask(task.name as TaskName);
        if (next === undefined) this.db.delete(schema.tasks).where(eq(schema.tasks.name, task.name)).run();
        else this.#schedule(task.name as TaskName, next);
      } catch (error) {
        this.#taskFailed(task.name as TaskName, task.attempts + 1, error);
      }
    }
    await this.#armAlarm();
  }

  #taskFailed(name: TaskName, attempts: number, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const row = this.#row();
    this.ctx.storage.transactionSync(() => {
      this.#event("task-failed", "system", { task: name, attempts, error: message });
      if (name === "pipeline" && attempts >= MAX_PIPELINE_ATTEMPTS && row && canTransition(row.state, "failed")) {
        this.#transition(row, "failed", "system", { task: name, error: message }, { failure: message });
        this.db.delete(schema.tasks).where(eq(schema.tasks.name, name)).run();
        return;
      }
      this.db
        .update(schema.tasks)
        .set({ attempts, dueAt: Date.now() + backoffMs(attempts), lastError: message })
        .where(eq(schema.tasks.name, name))
        .run();
    });
    logEvent("warn", "session.task_failed", { sessionId: row?.id, task: name, attempts, error: message }, this.#config.LOG_LEVEL);
    if (name === "pipeline") void this.#syncIndex();
  }

  /** Runs one task; returns a time to run it again, or undefined when it is done. */
  async #runTask(name: TaskName): Promise<number | undefined> {
    switch (name) {
      case "pipeline":
        await this.#runPipeline();
        return undefined;
      case "index":
        await this.#pushIndex();
        return undefined;
      case "purge":
        await this.#purgeOrThrow();
        return undefined;
      case "retention":
        return this.#expire();
      case "sweep":
        return this.#sweepUploads(false);
      case "anchor":
        await this.#submitAnchor();
        return undefined;
      case "interim":
        await this.#submitInterimAnchor();
        return undefined;
      case "scrub":
        return this.#scheduledScrub();
    }
  }

  /**
   * recording: hands the root of the longest contiguous prefix that is a multiple of
   * CHAIN_INTERIM_ANCHOR_CHUNKS to the chain as an interim anchor (a repeat is reported as known).
   */
  async #submitInterimAnchor(): Promise<void> {
    const row = this.#row();
    const every = this.#config.CHAIN_INTERIM_ANCHOR_CHUNKS;
    if (!row || every === 0 || !["recording", "processing", "stored"].includes(row.state)) return;
    const leaves = this.#contiguousSha256s();
    const size = Math.floor(leaves.length / every) * every;
    if (size === 0) return;
    const root = toHex(MerkleTree.fromLeafHashes(chunkLeafHashes(leaves.slice(0, size))).root());
    const chain = this.env.CHAIN.get(this.env.CHAIN.idFromName("lucid-chain"));
    const result = await chain.submit([{ type: "anchor", sessionId: row.id, root, chunkCount: size, owner: row.ownerId, node: row.nodeId, interim: true }]);
    if (!result.ok) throw new Error(`the chain refused the interim anchor: ${result.message}`);
  }

  /** processing: every chunk present with its size → manifest written → stored (→ completed without anchoring); anchored → completed. */
  async #runPipeline(): Promise<void> {
    const row = this.#row();
    if (!row) return;
    if (row.state === "processing") {
      const chunks = this.db.select().from(schema.chunks).orderBy(asc(schema.chunks.index)).all();
      for (const chunk of chunks.slice(0, row.treeSize ?? chunks.length)) {
        const head = await this.#store.head(chunk.storeKey);
        if (!head) throw new Error(`chunk ${chunk.index} is missing from the chunk store`);
        if (head.size !== chunk.size) throw new Error(`chunk ${chunk.index} has ${head.size} bytes in the store, expected ${chunk.size}`);
      }
      const manifest = this.#manifest(row);
      await this.#writeManifest(row.id, manifest);
      this.ctx.storage.transactionSync(() => {
        this.#transition(row, "stored", "system", { treeSize: manifest.treeSize, root: manifest.root }, { merkleRoot: manifest.root });
        const scrubEvery = this.#config.INTEGRITY_SCRUB_INTERVAL_SECONDS;
        if (scrubEvery > 0) this.#schedule("scrub", Date.now() + scrubEvery * 1000);
        if (!this.#config.ANCHORING_ENABLED) {
          this.#transition(this.#row()!, "completed", "system", { anchoring: "disabled" }, {
            completedAt: Date.now(),
          });
        } else {
          this.#schedule("anchor", Date.now());
        }
      });
      await this.#syncIndex();
    } else if (row.state === "anchored") {
      await this.#writeManifest(row.id, this.#manifest(row));
      const current = this.#row()!;
      if (current.state !== "anchored") return;
      this.ctx.storage.transactionSync(() => this.#transition(current, "completed", "system", undefined, { completedAt: Date.now() }));
      // A reorg may have moved the anchor while the manifest was being written (#moveAnchor): write it again.
      if (current.anchor !== row.anchor) await this.#writeManifest(current.id, this.#manifest(this.#row()!));
      await this.#syncIndex();
    }
  }

  /**
   * stored: hands the final root to the chain's mempool. Submitting twice is harmless (the chain
   * reports a known transaction); the chain calls recordAnchor once the root is in a block.
   */
  async #submitAnchor(): Promise<void> {
    const row = this.#row();
    if (!row || row.state !== "stored" || row.merkleRoot === null || row.treeSize === null) return;
    const chain = this.env.CHAIN.get(this.env.CHAIN.idFromName("lucid-chain"));
    const result = await chain.submit([
      { type: "anchor", sessionId: row.id, root: row.merkleRoot, chunkCount: row.treeSize, owner: row.ownerId, node: row.nodeId, interim: false },
    ]);
    // Already anchored on chain (e.g. a repeat after a crash): the chain's notice completes the session.
    if (!result.ok && result.reason !== "duplicate-anchor") throw new Error(`the chain refused the anchor: ${result.message}`);
  }

  async #writeManifest(sessionId: string, manifest: Manifest): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    await this.#store.put(manifestKey(sessionId), bytes, bytes.length);
  }

  /** Retention: delete the chunks and destroy the key; the manifest and proofs stay. */
  async #expire(): Promise<number | undefined> {
    const row = this.#row();
    if (!row || row.shreddedAt !== null) return undefined;
    // Held: retention waits; lifting the hold schedules it again.
    if (isHeld(row)) return undefined;
    if (Date.now() < row.expiresAt) return row.expiresAt;
    this.ctx.storage.transactionSync(() => {
      if (["created", "recording", "processing"].includes(row.state)) {
        this.#transition(row, "failed", "system", { reason: "retention expired" }, { failure: "retention expired before the session was stored" });
        this.db.delete(schema.tasks).where(eq(schema.tasks.name, "pipeline")).run();
      }
      this.#shred("system", "retention");
    });
    await this.#purge();
    await this.#syncIndex();
    return undefined;
  }

  /** Crypto-shredding: drop the wrapped key and queue every blob for deletion. Inside a transaction. */
  #shred(actor: Actor | "system", reason: string): void {
    if (isHeld(this.#row()!)) throw new Error("refusing to shred a session under legal hold");
    const keys = [
      ...this.db.select({ key: schema.chunks.storeKey }).from(schema.chunks).all(),
      ...this.db.select({ key: schema.uploads.storeKey }).from(schema.uploads).all(),
    ];
    for (const { key } of keys) {
      this.db.insert(schema.discards).values({ storeKey: key, addedAt: Date.now() }).onConflictDoNothing().run();
    }
    this.db.delete(schema.uploads).run();
    this.db.update(schema.session).set({ wrappedKey: null, shreddedAt: Date.now() }).run();
    this.#event("shredded", actor, { reason, blobs: keys.length });
  }

  /** Abandoned uploads (older than the timeout, or all of them once recording ended) lose their blobs. */
  async #sweepUploads(all: boolean): Promise<number | undefined> {
    const cutoff = all ? Number.MAX_SAFE_INTEGER : Date.now() - UPLOAD_TIMEOUT_MS;
    const stale = this.db.select().from(schema.uploads).where(lte(schema.uploads.startedAt, cutoff)).all();
    if (stale.length) {
      this.ctx.storage.transactionSync(() => {
        for (const upload of stale) {
          this.db.delete(schema.uploads).where(eq(schema.uploads.id, upload.id)).run();
          this.db.insert(schema.discards).values({ storeKey: upload.storeKey, addedAt: Date.now() }).onConflictDoNothing().run();
        }
      });
      await this.#purge();
    }
    const oldest = this.db.select().from(schema.uploads).orderBy(asc(schema.uploads.startedAt)).get();
    return oldest ? oldest.startedAt + UPLOAD_TIMEOUT_MS : undefined;
  }

  /** Deletes queued blobs now; on failure the alarm retries. */
  async #purge(): Promise<void> {
    try {
      await this.#purgeOrThrow();
    } catch {
      this.#schedule("purge", Date.now() + backoffMs(1), true);
      await this.#armAlarm();
    }
  }

  async #purgeOrThrow(): Promise<void> {
    const keys = this.db.select().from(schema.discards).all().map((d) => d.storeKey);
    if (!keys.length) return;
    await this.#store.delete(keys);
    this.ctx.storage.transactionSync(() => {
      for (const key of keys) this.db.delete(schema.discards).where(eq(schema.discards.storeKey, key)).run();
    });
  }

  /** Pushes the summary to the session index now; on failure the alarm retries. */
  async #syncIndex(): Promise<void> {
    try {
      await this.#pushIndex();
    } catch (error) {
      logEvent("warn", "session.index_sync_failed", { error: String(error) }, this.#config.LOG_LEVEL);
      this.#schedule("index", Date.now() + backoffMs(1), true);
      await this.#armAlarm();
    }
  }

  async #pushIndex(): Promise<void> {
    this.#broadcast();
    const row = this.#row();
    if (!row) return;
    await this.env.SESSION_INDEX.get(this.env.SESSION_INDEX.idFromName("global")).upsert(toSummary(row));
  }
}

function receipt(sessionId: string, chunk: { index: number; sha256: string; size: number; receivedAt: number }): ChunkReceiptValue {
  return { sessionId, index: chunk.index, sha256: chunk.sha256, size: chunk.size, receivedAt: chunk.receivedAt };
}

function stateProblem(row: SessionRow, action: string, expected: SessionState[]): Outcome<never> {
  return refuse("invalid-state", `Cannot ${action} a session that is ${row.state} (needs ${expected.join(" or ")}).`, {
    state: row.state,
  });
}

function chunkConflict(index: number, storedSha256: string): Outcome<never> {
  return refuse("chunk-conflict", `Chunk ${index} is already stored with a different SHA-256.`, { index, sha256: storedSha256 });
}
