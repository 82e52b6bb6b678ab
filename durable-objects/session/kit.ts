import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Actor } from "./access.ts";
import type * as schema from "./schema.ts";

/**
 * What the concern modules of integrity.ts, hold.ts and shares.ts need of a SessionDO: the
 * database, a synchronous transaction and the event log (SessionContext provides them). They
 * hold the rules; the object stays the only writer.
 */
export interface SessionKit {
  db: DrizzleSqliteDODatabase<typeof schema>;
  transaction(fn: () => void): void;
  event(kind: string, actor: Actor | "system", detail?: unknown): void;
}
