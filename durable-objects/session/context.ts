import { asc, eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { loadConfig } from "../../shared/config.ts";
import { logEvent } from "../../shared/log.ts";
import { MerkleTree, toHex } from "../../shared/merkle/index.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { canTransition, chunkLeafHashes, MANIFEST_VERSION, type Manifest, type SessionState } from "../../shared/session.ts";
import { chunkStoreFor, type ChunkStore } from "../../platform/chunk-store/index.ts";
import type { Env } from "../../platform/env.ts";
import { singleton } from "../../platform/objects.ts";
import { TaskScheduler } from "../scheduler.ts";
import { actorLabel, allowed, type Access, type Actor } from "./access.ts";
import { recordingParts, uploadVerdict } from "./handover.ts";
import * as schema from "./schema.ts";
import { MAX_PIPELINE_ATTEMPTS, RETRY_BACKOFF, type TaskName } from "./tasks.ts";
import { toManifestChunk, toSummary, toView, type ChunkStats, type SessionRow, type SessionView } from "./view.ts";

const manifestKey = (sessionId: string) => `sessions/${sessionId}/manifest.json`;

/**
 * What every part of a SessionDO shares: its storage, the session row and its event log, the
 * validated state transitions, the chunk tree, the task scheduler, and the fan-out of every
 * change to the live status streams and the session index.
 */
export class SessionContext {
  readonly tasks: TaskScheduler<TaskName>;

  constructor(
    readonly ctx: DurableObjectState,
    readonly env: Env,
    readonly db: DrizzleSqliteDODatabase<typeof schema>,
    /** True while the object was never created (no tables yet). */
    private readonly dormant: () => boolean,
  ) {
    this.tasks = new TaskScheduler<TaskName>(ctx.storage, db, schema.tasks, {
      backoff: RETRY_BACKOFF,
      onFailure: ({ name, attempts, error }) => {
        this.event("task-failed", "system", { task: name, attempts, error });
        const row = this.row();
        if (name === "pipeline" && attempts >= MAX_PIPELINE_ATTEMPTS && row && canTransition(row.state, "failed")) {
          this.transition(row, "failed", "system", { task: name, error }, { failure: error });
          return "give-up";
        }
        return "retry";
      },
    });
  }

  get config() {
    return loadConfig(this.env);
  }

  get store(): ChunkStore {
    return chunkStoreFor(this.env);
  }

  get chain() {
    return singleton(this.env, "CHAIN");
  }

  transaction<T>(body: () => T): T {
    return this.ctx.storage.transactionSync(body);
  }

  row(): SessionRow | undefined {
    return this.dormant() ? undefined : this.db.select().from(schema.session).get();
  }

  /** The row that an entry point has just written (it exists). */
  current(): SessionRow {
    return this.row()!;
  }

  stats(): ChunkStats {
    const rows = this.db
      .select({ index: schema.chunks.index, size: schema.chunks.size })
      .from(schema.chunks)
      .orderBy(asc(schema.chunks.index))
      .all();
    let contiguous = 0;
    while (contiguous < rows.length && rows[contiguous]!.index === contiguous) contiguous++;
    return { count: rows.length, contiguous, bytes: rows.reduce((sum, r) => sum + r.size, 0) };
  }

  view(row: SessionRow = this.current()): SessionView {
    return toView(row, this.stats());
  }

  /** The session if the actor may do `access` to it. */
  authorize(actor: Actor, access: Access): Outcome<SessionRow> {
    const row = this.row();
    if (!row) return refuse("not-found", "No such session.");
    const verdict = allowed(actor, access, row);
    return verdict.ok ? ok(row) : verdict;
  }

  /** The session if `actor` may upload chunk `index` (the hand-over rules first, handover.ts). */
  authorizeUpload(actor: Actor, index: number): Outcome<SessionRow> {
    const row = this.row();
    if (!row) return refuse("not-found", "No such session.");
    const special = this.transaction(() => uploadVerdict(this.db, row, actor, index, Date.now()));
    const verdict = special ?? allowed(actor, "upload", row);
    return verdict.ok ? ok(row) : verdict;
  }

  event(kind: string, actor: Actor | "system", detail?: unknown, from?: SessionState, to?: SessionState): void {
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
  transition(row: SessionRow, to: SessionState, actor: Actor | "system", detail?: unknown, extra: Partial<SessionRow> = {}) {
    if (!canTransition(row.state, to)) throw new Error(`illegal transition ${row.state} → ${to}`);
    const now = Date.now();
    this.db
      .update(schema.session)
      .set({ ...extra, state: to, version: row.version + 1, updatedAt: now })
      .where(eq(schema.session.id, row.id))
      .run();
    this.event("transition", actor, detail, row.state, to);
    logEvent("info", "session.transition", { sessionId: row.id, from: row.state, to }, this.config.LOG_LEVEL);
  }

  /** The SHA-256s of the longest run of chunks 0, 1, 2, … without a gap. */
  contiguousSha256s(): string[] {
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

  /** The RFC 9162 root of the first `size` contiguous chunks. */
  rootOf(leaves: string[]): string {
    return toHex(MerkleTree.fromLeafHashes(chunkLeafHashes(leaves)).root());
  }

  manifest(row: SessionRow): Manifest {
    const chunks = this.db.select().from(schema.chunks).orderBy(asc(schema.chunks.index)).all();
    const treeSize = row.treeSize ?? chunks.length;
    const included = chunks.slice(0, treeSize).map(toManifestChunk);
    return {
      version: MANIFEST_VERSION,
      sessionId: row.id,
      tree: "rfc9162-sha256",
      treeSize,
      root: this.rootOf(included.map((c) => c.sha256)),
      chunks: included,
      createdAt: new Date(row.stoppedAt ?? row.updatedAt).toISOString(),
      anchor: row.anchor,
      parts: recordingParts(this.db, row),
    };
  }

  async writeManifest(sessionId: string, manifest: Manifest): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    await this.store.put(manifestKey(sessionId), bytes, bytes.length);
  }

  // ---- fan-out: live status streams and the session index ------------------------------------

  statusMessage(row: SessionRow) {
    const view = this.view(row);
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

  /** Sends one frame to every live status stream. */
  send(text: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {
        // A closing socket: the runtime drops it.
      }
    }
  }

  broadcast(): void {
    if (!this.ctx.getWebSockets().length) return;
    const row = this.row();
    if (!row) return;
    this.send(JSON.stringify(this.statusMessage(row)));
  }

  /** Pushes the summary to the session index now; on failure the alarm retries. */
  async syncIndex(): Promise<void> {
    try {
      await this.pushIndex();
    } catch (error) {
      logEvent("warn", "session.index_sync_failed", { error: String(error) }, this.config.LOG_LEVEL);
      this.tasks.schedule("index", Date.now() + RETRY_BACKOFF.baseMs, true);
      await this.tasks.arm();
    }
  }

  async pushIndex(): Promise<void> {
    this.broadcast();
    const row = this.row();
    if (!row) return;
    await singleton(this.env, "SESSION_INDEX").upsert(toSummary(row));
  }
}
