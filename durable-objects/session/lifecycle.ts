import { asc } from "drizzle-orm";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { Actor } from "./access.ts";
import { heldProblem, isHeld } from "./hold.ts";
import type { SessionContext } from "./context.ts";
import type { SessionKeys } from "./keys.ts";
import type { Retention } from "./retention.ts";
import * as schema from "./schema.ts";
import { stateProblem, type CreateSessionInput } from "./types.ts";
import type { EventRow, SessionView } from "./view.ts";

/** The session's life as its owner and node drive it: create → start (recording) → stop (processing), delete. */
export class Lifecycle {
  constructor(
    private readonly s: SessionContext,
    private readonly keys: SessionKeys,
    private readonly retention: Retention,
  ) {}

  /** Call after the object was materialized. */
  async create(input: CreateSessionInput): Promise<Outcome<SessionView>> {
    const s = this.s;
    if (s.row()) return refuse("conflict", "A session with this id already exists.");
    const now = Date.now();
    const wrappedKey = await this.keys.wrapNew(input.id);
    const expiresAt = now + s.config.RETENTION_DAYS * 86_400_000;
    s.transaction(() => {
      s.db
        .insert(schema.session)
        .values({
          id: input.id,
          ownerId: input.ownerId,
          nodeId: input.nodeId,
          title: input.title,
          tags: input.tags,
          notes: input.notes,
          rdp: input.rdp,
          interaction: input.interaction,
          state: "created",
          version: 1,
          createdAt: now,
          updatedAt: now,
          expiresAt,
          wrappedKey,
        })
        .run();
      s.event(
        "created",
        { kind: "user", userId: input.ownerId, role: "USER" },
        { nodeId: input.nodeId, interaction: input.interaction },
        undefined,
        "created",
      );
      s.tasks.schedule("retention", expiresAt);
    });
    await s.syncIndex();
    await s.tasks.arm();
    return ok(s.view());
  }

  get(actor: Actor): Outcome<SessionView> {
    const row = this.s.authorize(actor, "view");
    return row.ok ? ok(this.s.view(row.value)) : row;
  }

  events(actor: Actor): Outcome<EventRow[]> {
    const row = this.s.authorize(actor, "view");
    if (!row.ok) return row;
    return ok(this.s.db.select().from(schema.events).orderBy(asc(schema.events.seq)).all());
  }

  async start(actor: Actor): Promise<Outcome<SessionView>> {
    const s = this.s;
    const row = s.authorize(actor, "control");
    if (!row.ok) return row;
    if (row.value.state !== "created") return stateProblem(row.value, "start", ["created"]);
    s.transaction(() => s.transition(row.value, "recording", actor, undefined, { startedAt: Date.now() }));
    await s.syncIndex();
    return ok(s.view());
  }

  /**
   * Ends the recording and finalizes: refused (state unchanged, uploads still accepted) while
   * any index below the final count is missing. `chunkCount` is what the agent produced; by
   * default the highest stored index + 1.
   */
  async stop(actor: Actor, chunkCount?: number): Promise<Outcome<SessionView>> {
    const s = this.s;
    const row = s.authorize(actor, "control");
    if (!row.ok) return row;
    if (row.value.state !== "recording") return stateProblem(row.value, "stop", ["recording"]);
    const indices = s.db.select({ index: schema.chunks.index }).from(schema.chunks).orderBy(asc(schema.chunks.index)).all();
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
    s.transaction(() => {
      s.transition(row.value, "processing", actor, { treeSize }, { stoppedAt: Date.now(), treeSize });
      s.tasks.schedule("pipeline", Date.now());
    });
    await this.retention.sweepUploads(true);
    await s.syncIndex();
    await s.tasks.arm();
    return ok(s.view());
  }

  /** Deleting keeps the record, manifest and proofs but deletes the chunks and destroys the key. */
  async remove(actor: Actor): Promise<Outcome<SessionView>> {
    const s = this.s;
    const row = s.authorize(actor, "delete");
    if (!row.ok) return row;
    if (isHeld(row.value)) return heldProblem(row.value);
    if (row.value.deletedAt === null) {
      s.transaction(() => {
        if (this.retention.unfinished(row.value.state)) {
          s.transition(row.value, "cancelled", actor, { reason: "deleted" });
          s.tasks.cancel("pipeline");
        }
        s.db.update(schema.session).set({ deletedAt: Date.now() }).run();
        this.retention.shred(actor, "deleted");
      });
      await this.retention.purge();
      await s.syncIndex();
      await s.tasks.arm();
    }
    return ok(s.view());
  }
}
