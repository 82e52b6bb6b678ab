import { and, desc, eq, gte, lt, lte, or, sql, type SQL } from "drizzle-orm";
import type { SessionState } from "../../shared/session.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";
import type { SessionSummary } from "./schema.ts";

export interface ListFilter {
  ownerId?: string;
  nodeId?: string;
  state?: SessionState;
  createdFrom?: number;
  createdTo?: number;
  /** Position after which to continue: the last item of the previous page. */
  after?: { createdAt: number; id: string };
  limit: number;
}

export interface SearchHit {
  summary: SessionSummary;
  /** bm25 score: lower is more relevant (SQLite's convention). */
  rank: number;
  snippet: string;
}

/**
 * The read model behind listing and search across sessions: one row per session, pushed by
 * each SessionDO after every change (stale versions are ignored), and an FTS5 index over the
 * metadata kept in sync by triggers. SessionDOs stay the source of truth.
 */
export class SessionIndexDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  async upsert(summary: SessionSummary): Promise<void> {
    await this.ready();
    const { id: _id, ...rest } = summary;
    this.db
      .insert(schema.sessions)
      .values(summary)
      .onConflictDoUpdate({
        target: schema.sessions.id,
        set: rest,
        setWhere: sql`excluded.version > ${schema.sessions.version}`,
      })
      .run();
  }

  /** Newest first; `limit + 1` rows are read so the caller knows whether a next page exists. */
  async list(filter: ListFilter): Promise<{ items: SessionSummary[]; more: boolean }> {
    await this.ready();
    const s = schema.sessions;
    const where: (SQL | undefined)[] = [
      filter.ownerId !== undefined ? eq(s.ownerId, filter.ownerId) : undefined,
      filter.nodeId !== undefined ? eq(s.nodeId, filter.nodeId) : undefined,
      filter.state !== undefined ? eq(s.state, filter.state) : undefined,
      filter.createdFrom !== undefined ? gte(s.createdAt, filter.createdFrom) : undefined,
      filter.createdTo !== undefined ? lte(s.createdAt, filter.createdTo) : undefined,
      filter.after
        ? or(lt(s.createdAt, filter.after.createdAt), and(eq(s.createdAt, filter.after.createdAt), lt(s.id, filter.after.id)))
        : undefined,
    ];
    const rows = this.db
      .select()
      .from(s)
      .where(and(...where))
      .orderBy(desc(s.createdAt), desc(s.id))
      .limit(filter.limit + 1)
      .all();
    return { items: rows.slice(0, filter.limit), more: rows.length > filter.limit };
  }

  /** Full-text search ranked by bm25, with a highlighted snippet; `ownerId` restricts to one user's sessions. */
  async search(query: string, options: { ownerId?: string; limit: number }): Promise<SearchHit[]> {
    await this.ready();
    const match = toMatchExpression(query);
    if (!match) return [];
    const owner = options.ownerId !== undefined ? sql`AND s.owner_id = ${options.ownerId}` : sql``;
    const rows = this.db.all<Record<string, unknown>>(sql`
      SELECT s.id, s.owner_id, s.node_id, s.title, s.tags, s.notes, s.state, s.created_at, s.updated_at, s.version,
             bm25(sessions_fts) AS rank,
             snippet(sessions_fts, -1, '«', '»', '…', 12) AS snippet
      FROM sessions_fts JOIN sessions s ON s.rowid = sessions_fts.rowid
      WHERE sessions_fts MATCH ${match} ${owner}
      ORDER BY rank
      LIMIT ${options.limit}`);
    return rows.map((r) => ({
      summary: {
        id: String(r.id),
        ownerId: String(r.owner_id),
        nodeId: String(r.node_id),
        title: String(r.title),
        tags: String(r.tags),
        notes: String(r.notes),
        state: r.state as SessionState,
        createdAt: Number(r.created_at),
        updatedAt: Number(r.updated_at),
        version: Number(r.version),
      },
      rank: Number(r.rank),
      snippet: String(r.snippet),
    }));
  }
}

/**
 * Turns free text into a safe FTS5 expression: every word becomes a quoted prefix term, so
 * user input can never be read as FTS5 syntax (operators, column filters, unbalanced quotes).
 */
export function toMatchExpression(query: string): string | null {
  const words = query.match(/[\p{L}\p{N}_]+/gu)?.slice(0, 16) ?? [];
  if (!words.length) return null;
  return words.map((word) => `"${word}"*`).join(" ");
}
