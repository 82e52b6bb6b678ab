import { sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type * as schema from "./schema.ts";
import type { SessionSummary } from "./schema.ts";

/** Where a search matched a session: its metadata (FTS), a recorded window title or typed text, and from which chunk on. */
export interface TermMatch {
  field: "metadata" | "window-title" | "typed-text";
  /** The first chunk whose terms hold every query word (null for a metadata match). */
  chunkIndex: number | null;
}

/** Which policies let a field be searched: titles are recorded under metadata and full, typed text under full only. */
const FIELDS = [
  { field: "window-title", tokens: "title", policies: ["metadata", "full"] },
  { field: "typed-text", tokens: "text", policies: ["full"] },
] as const;

/**
 * Sessions with a chunk whose tokens include every query word's token, per field, newest first:
 * the first such chunk of each. Sessions whose recording is gone never match (their terms are
 * deleted too), nor fields their policy does not record.
 */
export function termHits(
  db: DrizzleSqliteDODatabase<typeof schema>,
  tokens: { title: string[]; text: string[] },
  options: { ownerId?: string; limit: number },
): { summary: SessionSummary; matches: TermMatch[] }[] {
  const found = new Map<string, { summary: SessionSummary; matches: TermMatch[] }>();
  for (const { field, tokens: which, policies } of FIELDS) {
    const list = tokens[which];
    if (!list.length) continue;
    const owner = options.ownerId !== undefined ? sql`AND s.owner_id = ${options.ownerId}` : sql``;
    const rows = db.all<Record<string, unknown>>(sql`
      SELECT s.*, c.first_chunk AS first_chunk
      FROM (
        SELECT session_id, MIN(chunk_index) AS first_chunk FROM (
          SELECT session_id, chunk_index FROM session_terms
          WHERE token IN (${sql.join(
            list.map((t) => sql`${t}`),
            sql`, `,
          )})
          GROUP BY session_id, chunk_index HAVING COUNT(*) = ${list.length}
        ) GROUP BY session_id
      ) c JOIN sessions s ON s.id = c.session_id
      WHERE s.shredded = 0 AND s.interaction IN (${sql.join(
        policies.map((p) => sql`${p}`),
        sql`, `,
      )}) ${owner}
      ORDER BY s.created_at DESC, s.id DESC
      LIMIT ${options.limit}`);
    for (const r of rows) {
      const match: TermMatch = { field, chunkIndex: Number(r.first_chunk) };
      const known = found.get(String(r.id));
      if (known) known.matches.push(match);
      else found.set(String(r.id), { summary: summaryOf(r), matches: [match] });
    }
  }
  return [...found.values()];
}

/** A row of `sessions` read with raw SQL (snake_case columns). */
export function summaryOf(r: Record<string, unknown>): SessionSummary {
  return {
    id: String(r.id),
    ownerId: String(r.owner_id),
    nodeId: String(r.node_id),
    title: String(r.title),
    tags: String(r.tags),
    notes: String(r.notes),
    interaction: r.interaction as SessionSummary["interaction"],
    shredded: Boolean(r.shredded),
    state: r.state as SessionSummary["state"],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    version: Number(r.version),
  };
}
