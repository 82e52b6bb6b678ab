import { asc, eq, lte } from "drizzle-orm";
import { RETRY_BACKOFF, UPLOAD_TIMEOUT_MS } from "./tasks.ts";
import type { Actor } from "./access.ts";
import { isHeld } from "./hold.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";

/** States in which a session still expects chunks or its pipeline: ending it there cancels the pipeline. */
const UNFINISHED = ["created", "recording", "processing"];

/**
 * What leaves a session: retention expiry, crypto-shredding (the wrapped key dropped, every blob
 * queued), abandoned uploads, and the queue of blobs to delete from the chunk store, retried by
 * the alarm until the store confirms.
 */
export class Retention {
  constructor(private readonly s: SessionContext) {}

  /** Whether the session had not reached `stored` (its pipeline is dropped with it). */
  unfinished(state: string): boolean {
    return UNFINISHED.includes(state);
  }

  /** Queues a blob for deletion; inside a transaction. */
  discard(storeKey: string): void {
    this.s.db.insert(schema.discards).values({ storeKey, addedAt: Date.now() }).onConflictDoNothing().run();
  }

  /** Retention: delete the chunks and destroy the key; the manifest and proofs stay. */
  async expire(): Promise<number | undefined> {
    const s = this.s;
    const row = s.row();
    if (!row || row.shreddedAt !== null) return undefined;
    // Held: retention waits; lifting the hold schedules it again.
    if (isHeld(row)) return undefined;
    if (Date.now() < row.expiresAt) return row.expiresAt;
    s.transaction(() => {
      if (this.unfinished(row.state)) {
        s.transition(
          row,
          "failed",
          "system",
          { reason: "retention expired" },
          { failure: "retention expired before the session was stored" },
        );
        s.tasks.cancel("pipeline");
      }
      this.shred("system", "retention");
    });
    await this.purge();
    await s.syncIndex();
    return undefined;
  }

  /** Crypto-shredding: drop the wrapped key and queue every blob for deletion. Inside a transaction. */
  shred(actor: Actor | "system", reason: string): void {
    if (isHeld(this.s.current())) throw new Error("refusing to shred a session under legal hold");
    const db = this.s.db;
    const keys = [
      ...db.select({ key: schema.chunks.storeKey }).from(schema.chunks).all(),
      ...db.select({ key: schema.uploads.storeKey }).from(schema.uploads).all(),
    ];
    for (const { key } of keys) this.discard(key);
    db.delete(schema.uploads).run();
    db.update(schema.session).set({ wrappedKey: null, shreddedAt: Date.now() }).run();
    this.s.event("shredded", actor, { reason, blobs: keys.length });
  }

  /** Abandoned uploads (older than the timeout, or all of them once recording ended) lose their blobs. */
  async sweepUploads(all: boolean): Promise<number | undefined> {
    const db = this.s.db;
    const cutoff = all ? Number.MAX_SAFE_INTEGER : Date.now() - UPLOAD_TIMEOUT_MS;
    const stale = db.select().from(schema.uploads).where(lte(schema.uploads.startedAt, cutoff)).all();
    if (stale.length) {
      this.s.transaction(() => {
        for (const upload of stale) {
          db.delete(schema.uploads).where(eq(schema.uploads.id, upload.id)).run();
          this.discard(upload.storeKey);
        }
      });
      await this.purge();
    }
    const oldest = db.select().from(schema.uploads).orderBy(asc(schema.uploads.startedAt)).get();
    return oldest ? oldest.startedAt + UPLOAD_TIMEOUT_MS : undefined;
  }

  /** Deletes queued blobs now; on failure the alarm retries. */
  async purge(): Promise<void> {
    try {
      await this.purgeOrThrow();
    } catch {
      this.s.tasks.schedule("purge", Date.now() + RETRY_BACKOFF.baseMs, true);
      await this.s.tasks.arm();
    }
  }

  async purgeOrThrow(): Promise<void> {
    const db = this.s.db;
    const keys = db
      .select()
      .from(schema.discards)
      .all()
      .map((d) => d.storeKey);
    if (!keys.length) return;
    await this.s.store.delete(keys);
    this.s.transaction(() => {
      for (const key of keys) db.delete(schema.discards).where(eq(schema.discards.storeKey, key)).run();
    });
  }
}
