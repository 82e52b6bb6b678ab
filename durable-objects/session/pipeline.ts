import { asc } from "drizzle-orm";
import { sameAnchor } from "./anchoring.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";

/**
 * The `pipeline` task. processing: every chunk present in the store with its size → manifest
 * written → stored (→ completed at once when anchoring is disabled, else the `anchor` task);
 * anchored → manifest rewritten with the anchor → completed. A throw is retried with back-off.
 */
export class Pipeline {
  constructor(
    private readonly s: SessionContext,
    /** Called inside the transaction that stores the session: the first integrity scrub. */
    private readonly onStored: () => void,
  ) {}

  async run(): Promise<void> {
    const s = this.s;
    const row = s.row();
    if (!row) return;
    if (row.state === "processing") {
      const chunks = s.db.select().from(schema.chunks).orderBy(asc(schema.chunks.index)).all();
      for (const chunk of chunks.slice(0, row.treeSize ?? chunks.length)) {
        const head = await s.store.head(chunk.storeKey);
        if (!head) throw new Error(`chunk ${chunk.index} is missing from the chunk store`);
        if (head.size !== chunk.size) throw new Error(`chunk ${chunk.index} has ${head.size} bytes in the store, expected ${chunk.size}`);
      }
      const manifest = s.manifest(row);
      await s.writeManifest(row.id, manifest);
      s.transaction(() => {
        s.transition(row, "stored", "system", { treeSize: manifest.treeSize, root: manifest.root }, { merkleRoot: manifest.root });
        this.onStored();
        if (!s.config.ANCHORING_ENABLED) {
          s.transition(s.current(), "completed", "system", { anchoring: "disabled" }, { completedAt: Date.now() });
        } else {
          s.tasks.schedule("anchor", Date.now());
        }
      });
      await s.syncIndex();
    } else if (row.state === "anchored") {
      await s.writeManifest(row.id, s.manifest(row));
      const current = s.current();
      if (current.state !== "anchored") return;
      s.transaction(() => s.transition(current, "completed", "system", undefined, { completedAt: Date.now() }));
      // A reorg may have moved the anchor while the manifest was being written (Anchoring#move): write it again.
      if (!sameAnchor(current.anchor, row.anchor)) await s.writeManifest(current.id, s.manifest(s.current()));
      await s.syncIndex();
    }
  }
}
