import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Actor } from "./access.ts";
import type * as schema from "./schema.ts";

/**
 * What SessionDO lends its concern modules (./integrity.ts, ./hold.ts, ./shares.ts): the
 * database, a synchronous transaction, and the event log. The class stays the only writer; the
 * modules hold the rules, so its file keeps to the wiring.
 */
export interface SessionKit {
  db: DrizzleSqliteDODatabase<typeof schema>;
  transaction(fn: () => void): void;
  event(kind: string, actor: Actor | "system", detail?: unknown): void;
}
