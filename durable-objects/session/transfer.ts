import { eq } from "drizzle-orm";
import { logEvent } from "../../shared/log.ts";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { allowed, type Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import {
  allHandovers,
  mayHandOver,
  nodeMayAsk,
  recordHandover,
  sealHandover,
  settledHandover,
  toHandoverView,
  type HandoverView,
} from "./handover.ts";
import * as schema from "./schema.ts";

/** The session's entry points for handing its recording to another node (the rules are in handover.ts). */
export class Transfer {
  constructor(private readonly s: SessionContext) {}

  /**
   * Moves the session from `fromNode` to `toNode` (an RDP desktop migrated; the route checked the
   * caller controls the desktop): the assignment changes at once, the old node keeps a bounded
   * grace for chunks it recorded before, and the event log records who moved it where.
   */
  async handOver(actor: Actor, fromNode: string, toNode: string): Promise<Outcome<HandoverView>> {
    const s = this.s;
    const row = s.authorize(actor, "control");
    if (!row.ok) return row;
    if (actor.kind !== "user") return refuse("forbidden", "Nodes cannot hand sessions over.");
    const now = Date.now();
    const outcome = s.transaction((): Outcome<HandoverView> => {
      const verdict = mayHandOver(s.db, row.value, fromNode, toNode, now);
      if (!verdict.ok) return verdict;
      const h = recordHandover(s.db, fromNode, toNode, now);
      s.db
        .update(schema.session)
        .set({ nodeId: toNode, version: row.value.version + 1, updatedAt: now })
        .where(eq(schema.session.id, row.value.id))
        .run();
      s.event("handover", actor, { from: fromNode, to: toNode, graceUntil: new Date(h.graceUntil).toISOString(), indexLimit: h.limit });
      return ok(toHandoverView(h));
    });
    if (outcome.ok) {
      logEvent("info", "session.handover", { sessionId: row.value.id, from: fromNode, to: toNode }, s.config.LOG_LEVEL);
      await s.syncIndex();
    }
    return outcome;
  }

  /**
   * The hand-overs and, for the assigned node, its first chunk index (0 without a hand-over, null
   * while the old node may still declare). The old node may ask during its grace.
   */
  async list(actor: Actor): Promise<Outcome<{ nodeId: string; firstIndex: number | null; handovers: HandoverView[] }>> {
    const s = this.s;
    const row = s.row();
    if (!row) return refuse("not-found", "No such session.");
    const now = Date.now();
    if (actor.kind === "node" ? !nodeMayAsk(s.db, row, actor.nodeId, now) : !allowed(actor, "view", row).ok) {
      return actor.kind === "node"
        ? refuse("forbidden", "This node is not assigned to the session.")
        : refuse("not-found", "No such session.");
    }
    const latest = s.transaction(() => settledHandover(s.db, now));
    return ok({ nodeId: row.nodeId, firstIndex: latest ? latest.boundary : 0, handovers: allHandovers(s.db).map(toHandoverView) });
  }

  /** The old node's chunk count after its recorder sealed the last chunk: fixes the boundary. */
  async seal(actor: Actor, chunkCount: number): Promise<Outcome<HandoverView>> {
    const s = this.s;
    if (!s.row()) return refuse("not-found", "No such session.");
    const outcome = s.transaction(() => {
      const sealed = sealHandover(s.db, actor, chunkCount, Date.now());
      if (sealed.ok) s.event("handover-sealed", actor, { firstIndex: sealed.value.boundary, node: sealed.value.toNode });
      return sealed;
    });
    return outcome.ok ? ok(toHandoverView(outcome.value)) : outcome;
  }
}
