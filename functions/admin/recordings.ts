import type { Context } from "hono";
import type { SessionView } from "../../durable-objects/session/index.ts";
import type { Outcome } from "../../shared/outcome.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

const PAGE = 100;
const MAX_SESSIONS = 1000;

/**
 * Stops every session that is recording (as an admin would one by one): each finalizes with
 * the chunks it has. A session with gaps in its chunks is refused by its SessionDO and keeps
 * recording state — uploads stay refused while recordings are halted.
 */
export async function stopActiveRecordings(c: Context<AppEnv>): Promise<{ sessionId: string; outcome: string }[]> {
  const principal = principalOf(c);
  const actor = { kind: "user" as const, userId: principal.userId, role: principal.role };
  const index = singleton(c.env, "SESSION_INDEX");
  const results: { sessionId: string; outcome: string }[] = [];
  let after: { createdAt: number; id: string } | undefined;
  while (results.length < MAX_SESSIONS) {
    const page = await callDurableObject("SessionIndexDO", "list", () => index.list({ state: "recording", after, limit: PAGE }));
    for (const session of page.items) {
      const stub = objectNamed(c.env, "SESSIONS", session.id);
      const result: Outcome<SessionView> = await callDurableObject("SessionDO", "stop", () => stub.stop(actor));
      results.push({ sessionId: session.id, outcome: outcomeOf(result) });
    }
    const last = page.items.at(-1);
    if (!page.more || !last) break;
    after = { createdAt: last.createdAt, id: last.id };
  }
  return results;
}

function outcomeOf(result: Outcome<SessionView>): string {
  return result.ok ? result.value.state : result.problem.slug;
}
