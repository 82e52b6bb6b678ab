import { eq } from "drizzle-orm";
import { logEvent } from "../../shared/log.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { anchorSchema, anchorWithdrawalSchema, type Anchor } from "../../shared/session.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";
import { stateProblem } from "./types.ts";
import type { SessionRow, SessionView } from "./view.ts";

/**
 * The session's roots on Lucid's chain: interim anchors while recording, the final anchor once
 * stored, and the chain's notices (anchored, moved by a reorg, withdrawn to the mempool).
 */
export class Anchoring {
  constructor(private readonly s: SessionContext) {}

  /**
   * Called by the chain once the session's root is in a block: stored → anchored. Called again
   * when a reorg moved the anchor to another block (or re-included it after a withdrawal): an
   * anchored or completed session then records where the chain has it now (#follow), in its
   * manifest too.
   */
  async record(anchorInput: Anchor): Promise<Outcome<SessionView>> {
    const s = this.s;
    const anchor = anchorSchema.safeParse(anchorInput);
    if (!anchor.success) return refuse("validation-failed", "The anchor is malformed.");
    const row = s.row();
    if (!row) return refuse("not-found", "No such session.");
    if (row.state === "anchored" || row.state === "completed") return this.#follow(row);
    if (row.state !== "stored") return stateProblem(row, "anchor", ["stored"]);
    s.transaction(() => {
      s.transition(row, "anchored", "system", anchor.data, { anchor: anchor.data });
      s.tasks.schedule("pipeline", Date.now());
    });
    await s.syncIndex();
    await s.tasks.arm();
    return ok(s.view());
  }

  /**
   * Called by the chain when a reorg returned the session's final anchor to its mempool: the
   * session keeps its state but has no anchor (manifest included) until `record` tells it the
   * block that includes it again. Before any anchor (stored) it changes nothing.
   */
  async withdraw(input: { chain: string; txId: string }): Promise<Outcome<SessionView>> {
    const notice = anchorWithdrawalSchema.safeParse(input);
    if (!notice.success) return refuse("validation-failed", "The withdrawal is malformed.");
    const row = this.s.row();
    if (!row) return refuse("not-found", "No such session.");
    if (row.state !== "anchored" && row.state !== "completed") return ok(this.s.view(row));
    return this.#follow(row);
  }

  /**
   * After a reorg the chain's notices only say "look again": the session records where the chain
   * has its final anchor now (null while it waits in the mempool). Asking rather than trusting the
   * notice's content means a late, stale notice can never move the anchor back to a dropped block.
   */
  async #follow(row: SessionRow): Promise<Outcome<SessionView>> {
    const found = await this.s.chain.anchorEvidence(row.id);
    const anchor: Anchor | null =
      found && "block" in found && !found.tx.interim
        ? {
            chain: found.block.header.chain,
            blockHeight: found.block.header.height,
            blockHash: found.block.hash,
            txId: found.txId,
            anchoredAt: new Date(found.block.header.timestamp).toISOString(),
          }
        : null;
    return this.#move(this.s.current(), anchor);
  }

  /** Records where the final anchor is now (null: waiting for a block again) and rewrites a written manifest. */
  async #move(row: SessionRow, anchor: Anchor | null): Promise<Outcome<SessionView>> {
    const s = this.s;
    if (!sameAnchor(row.anchor, anchor)) {
      s.transaction(() => {
        s.db
          .update(schema.session)
          .set({ anchor, version: row.version + 1, updatedAt: Date.now() })
          .where(eq(schema.session.id, row.id))
          .run();
        s.event(anchor ? "anchor-moved" : "anchor-withdrawn", "system", { from: row.anchor, to: anchor });
      });
      logEvent(
        "info",
        anchor ? "session.anchor_moved" : "session.anchor_withdrawn",
        { sessionId: row.id, txId: anchor?.txId },
        s.config.LOG_LEVEL,
      );
    }
    const updated = s.current();
    // The manifest object is written on completion; a repeat rewrites it (a failed write is retried by the chain).
    if (updated.state === "completed") await s.writeManifest(updated.id, s.manifest(updated));
    await s.syncIndex();
    return ok(s.view(updated));
  }

  /**
   * The `anchor` task (stored): hands the final root to the chain's mempool, asking to be told
   * where it lands. Submitting twice is harmless (the chain reports a known transaction); the
   * chain calls `record` once the root is in a block.
   */
  async submitFinal(): Promise<void> {
    const row = this.s.row();
    if (!row || row.state !== "stored" || row.merkleRoot === null || row.treeSize === null) return;
    const result = await this.s.chain.submit(
      [
        {
          type: "anchor",
          sessionId: row.id,
          root: row.merkleRoot,
          chunkCount: row.treeSize,
          owner: row.ownerId,
          node: row.nodeId,
          interim: false,
        },
      ],
      // This session waits to hear where its root lands (or, after a repeat, where it is).
      { notify: true },
    );
    // Already anchored on chain (e.g. a repeat after a crash): the chain's notice completes the session.
    if (!result.ok && result.reason !== "duplicate-anchor") throw new Error(`the chain refused the anchor: ${result.message}`);
  }

  /**
   * The `interim` task (recording): hands the root of the longest contiguous prefix that is a
   * multiple of CHAIN_INTERIM_ANCHOR_CHUNKS to the chain as an interim anchor (a repeat is
   * reported as known).
   */
  async submitInterim(): Promise<void> {
    const s = this.s;
    const row = s.row();
    const every = s.config.CHAIN_INTERIM_ANCHOR_CHUNKS;
    if (!row || every === 0 || !["recording", "processing", "stored"].includes(row.state)) return;
    const leaves = s.contiguousSha256s();
    const size = Math.floor(leaves.length / every) * every;
    if (size === 0) return;
    const root = s.rootOf(leaves.slice(0, size));
    const result = await s.chain.submit([
      { type: "anchor", sessionId: row.id, root, chunkCount: size, owner: row.ownerId, node: row.nodeId, interim: true },
    ]);
    if (!result.ok) throw new Error(`the chain refused the interim anchor: ${result.message}`);
  }
}

/** Two stored anchors are the same when their JSON is (both come from the same encoder). */
export function sameAnchor(a: Anchor | null, b: Anchor | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
