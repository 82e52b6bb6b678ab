import { eq } from "drizzle-orm";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import type { Retention } from "./retention.ts";
import * as schema from "./schema.ts";
import { UPLOAD_TIMEOUT_MS } from "./tasks.ts";
import { chunkConflict, receipt, stateProblem, type BeginUpload, type ChunkMeta, type ChunkReceiptValue } from "./types.ts";

const chunkKeyPrefix = (sessionId: string) => `sessions/${sessionId}/chunks/`;

/**
 * Chunk uploads in two halves around the blob write the route does: begin (node, state and
 * index checked, a blob key reserved), then commit (the first commit for an index wins) or
 * abort. Every blob that does not become a chunk is queued for deletion.
 */
export class Ingest {
  constructor(
    private readonly s: SessionContext,
    private readonly retention: Retention,
  ) {}

  /** First half of an upload: checks the node, state and index, and reserves a blob key. */
  async begin(actor: Actor, index: number, sha256: string): Promise<Outcome<BeginUpload>> {
    const s = this.s;
    const row = s.authorizeUpload(actor, index);
    if (!row.ok) return row;
    if (row.value.state !== "recording") return stateProblem(row.value, "upload chunks to", ["recording"]);
    const existing = s.db.select().from(schema.chunks).where(eq(schema.chunks.index, index)).get();
    if (existing) {
      if (existing.sha256 !== sha256) return chunkConflict(index, existing.sha256);
      return ok({ kind: "stored", receipt: receipt(row.value.id, existing) });
    }
    const uploadId = crypto.randomUUID();
    const storeKey = `${chunkKeyPrefix(row.value.id)}${String(index).padStart(10, "0")}/${uploadId}`;
    const now = Date.now();
    s.transaction(() => {
      s.db.insert(schema.uploads).values({ id: uploadId, index, sha256, storeKey, startedAt: now }).run();
      s.tasks.schedule("sweep", now + UPLOAD_TIMEOUT_MS, true);
    });
    await s.tasks.arm();
    return ok({ kind: "upload", uploadId, storeKey });
  }

  /** Second half: the blob is in the store with this digest. The first commit for an index wins. */
  async commit(
    actor: Actor,
    uploadId: string,
    chunk: { sha256: string; size: number } & ChunkMeta,
  ): Promise<Outcome<{ created: boolean; receipt: ChunkReceiptValue }>> {
    const s = this.s;
    const upload = s.db.select().from(schema.uploads).where(eq(schema.uploads.id, uploadId)).get();
    if (!upload) {
      const caller = s.authorize(actor, "view");
      return caller.ok || actor.kind !== "node"
        ? refuse("conflict", "The upload expired before it completed; send the chunk again.")
        : caller;
    }
    // Checked again at commit: a node handed the session over (or past its grace) meanwhile is refused.
    const row = s.authorizeUpload(actor, upload.index);
    if (!row.ok) return row;
    let outcome: Outcome<{ created: boolean; receipt: ChunkReceiptValue }>;
    let interimDue = false;
    s.transaction(() => {
      s.db.delete(schema.uploads).where(eq(schema.uploads.id, uploadId)).run();
      const existing = s.db.select().from(schema.chunks).where(eq(schema.chunks.index, upload.index)).get();
      if (row.value.state !== "recording") {
        outcome = stateProblem(row.value, "upload chunks to", ["recording"]);
      } else if (existing) {
        outcome =
          existing.sha256 === chunk.sha256
            ? ok({ created: false, receipt: receipt(row.value.id, existing) })
            : chunkConflict(upload.index, existing.sha256);
      } else {
        const stored = { ...chunk, index: upload.index, storeKey: upload.storeKey, receivedAt: Date.now() };
        const before = s.contiguousSha256s().length;
        s.db.insert(schema.chunks).values(stored).run();
        // Rolling anchors: each time the contiguous prefix crosses a multiple of the interval,
        // its root goes to the chain, so a recording cut short later is provably longer.
        const every = s.config.CHAIN_INTERIM_ANCHOR_CHUNKS;
        if (every > 0 && Math.floor(s.contiguousSha256s().length / every) > Math.floor(before / every)) {
          s.tasks.schedule("interim", Date.now());
          interimDue = true;
        }
        s.event("chunk-stored", actor, { index: upload.index, sha256: chunk.sha256, size: chunk.size });
        outcome = ok({ created: true, receipt: receipt(row.value.id, stored) });
        s.broadcast();
        return;
      }
      this.retention.discard(upload.storeKey);
    });
    if (interimDue) await s.tasks.arm();
    await this.retention.purge();
    return outcome!;
  }

  /** The upload failed (digest or length mismatch, broken stream): forget it and delete its blob. */
  async abort(actor: Actor, uploadId: string, reason: string): Promise<void> {
    const s = this.s;
    const row = s.authorize(actor, "upload");
    if (!row.ok) return;
    const upload = s.db.select().from(schema.uploads).where(eq(schema.uploads.id, uploadId)).get();
    if (!upload) return;
    s.transaction(() => {
      s.db.delete(schema.uploads).where(eq(schema.uploads.id, uploadId)).run();
      this.retention.discard(upload.storeKey);
      s.event("chunk-rejected", actor, { index: upload.index, reason });
    });
    await this.retention.purge();
  }
}
