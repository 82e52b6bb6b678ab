import { eq } from "drizzle-orm";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { singleton } from "../../platform/objects.ts";
import type { ChunkTerms } from "../../shared/recording/terms.ts";
import type { Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";

/**
 * A chunk's search terms from the node that recorded it: window titles (policy `metadata` or
 * `full`) and typed words (`full` only). Checked here against the session's policy and its
 * stored chunks; the session index keys them (session-index/terms.ts) and keeps only tokens.
 */
export class Terms {
  constructor(private readonly s: SessionContext) {}

  async put(actor: Actor, index: number, terms: ChunkTerms): Promise<Outcome<void>> {
    const s = this.s;
    const row = s.authorizeUpload(actor, index);
    if (!row.ok) return row;
    const session = row.value;
    if (session.shreddedAt !== null) return refuse("gone", "The session's recording was deleted; its terms are not kept.");
    const chunk = s.db.select({ index: schema.chunks.index }).from(schema.chunks).where(eq(schema.chunks.index, index)).get();
    if (!chunk) return refuse("not-found", `Chunk ${index} is not stored; send its terms after the chunk.`, { index });
    const policy = session.interaction;
    if (policy === "none" && (terms.titles.length || terms.words.length)) {
      return refuse("interaction-policy", "The session records no interaction (policy none): no search terms are kept.", { policy });
    }
    if (policy === "metadata" && terms.words.length) {
      return refuse("interaction-policy", "The session records no typed text (policy metadata): send window titles only.", { policy });
    }
    const searchIndex = singleton(s.env, "SESSION_INDEX");
    if (await searchIndex.putTerms(session.id, index, terms)) return ok(undefined);
    // The index has not had this session's summary yet (its sync is retried in the background):
    // send it now, then the terms; never answer 204 for terms that were not kept.
    await s.pushIndex();
    if (await searchIndex.putTerms(session.id, index, terms)) return ok(undefined);
    return refuse("service-unavailable", "The search index is not ready for this session; send the terms again.");
  }
}
