import { and, desc, eq, gte, lt, lte, or, sql, type SQL } from "drizzle-orm";
import type { Env } from "../../platform/env.ts";
import type { SessionState } from "../../shared/session.ts";
import { loadConfig } from "../../shared/config.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";
import type { SessionSummary } from "./schema.ts";
import { summaryOf, termHits, type TermMatch } from "./term-search.ts";
import { wordsOf, type ChunkTerms } from "../../shared/recording/terms.ts";
import { distinctWords, searchTermKey, termToken } from "./terms.ts";

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
  /** bm25 score: lower is more relevant (SQLite's convention); 0 for a hit by recording terms only. */
  rank: number;
  snippet: string;
  /** Where the query matched: the metadata (FTS), window titles or typed text (with the first chunk). */
  matches: TermMatch[];
}

/**
 * The read model behind listing and search across sessions: one row per session, pushed by
 * each SessionDO after every change (stale versions are ignored), and an FTS5 index over the
 * metadata kept in sync by triggers. SessionDOs stay the source of truth.
 */
export class SessionIndexDO extends SqlDurableObject<typeof schema, Env> {
  #termKey: Promise<CryptoKey> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
  }

  async upsert(summary: SessionSummary): Promise<void> {
    await this.ready();
    const { id: _id, ...rest } = summary;
    this.ctx.storage.transactionSync(() => {
      this.db
        .insert(schema.sessions)
        .values(summary)
        .onConflictDoUpdate({
          target: schema.sessions.id,
          set: rest,
          setWhere: sql`excluded.version > ${schema.sessions.version}`,
        })
        .run();
      // The recording is gone (deleted, shredded, expired): so are its search terms.
      if (summary.shredded) this.db.delete(schema.terms).where(eq(schema.terms.sessionId, summary.id)).run();
    });
  }

  /**
   * Replaces chunk `chunkIndex`'s search terms with the keyed tokens of its titles' words and
   * typed words (terms.ts); the words themselves are not kept. Ignored once the recording is gone.
   * Returns false, keeping nothing, while the index does not know the session yet.
   */
  async putTerms(sessionId: string, chunkIndex: number, terms: ChunkTerms): Promise<boolean> {
    await this.ready();
    const key = await this.#key();
    const tokens = new Set<string>();
    for (const word of distinctWords(terms.titles)) tokens.add(await termToken(key, "title", word));
    for (const word of distinctWords(terms.words)) tokens.add(await termToken(key, "text", word));
    return this.ctx.storage.transactionSync(() => {
      const t = schema.terms;
      this.db
        .delete(t)
        .where(and(eq(t.sessionId, sessionId), eq(t.chunkIndex, chunkIndex)))
        .run();
      const session = this.db
        .select({ shredded: schema.sessions.shredded })
        .from(schema.sessions)
        .where(eq(schema.sessions.id, sessionId))
        .get();
      if (!session) return false;
      if (session.shredded) return true;
      const rows = [...tokens].map((token) => ({ token, sessionId, chunkIndex }));
      // SQLite takes at most ~32k bound values a statement: insert in slices.
      for (let i = 0; i < rows.length; i += 500)
        this.db
          .insert(t)
          .values(rows.slice(i, i + 500))
          .onConflictDoNothing()
          .run();
      return true;
    });
  }

  #key(): Promise<CryptoKey> {
    if (!this.#termKey) {
      this.#termKey = searchTermKey(loadConfig(this.env).SESSION_KEK);
      this.#termKey.catch(() => (this.#termKey = null));
    }
    return this.#termKey;
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

  /**
   * Full-text search over the metadata ranked by bm25, with a highlighted snippet, then sessions
   * whose recorded window titles (or, under `full`, typed text) hold every query word;
   * `ownerId` restricts to one user's sessions.
   */
  async search(query: string, options: { ownerId?: string; limit: number }): Promise<SearchHit[]> {
    await this.ready();
    const hits = this.#metadataHits(query, options);
    const words = [...new Set(wordsOf(query))].slice(0, 16);
    if (!words.length) return hits;
    const key = await this.#key();
    const tokens = {
      title: await Promise.all(words.map((w) => termToken(key, "title", w))),
      text: await Promise.all(words.map((w) => termToken(key, "text", w))),
    };
    const byId = new Map(hits.map((h) => [h.summary.id, h]));
    for (const found of termHits(this.db, tokens, options)) {
      const known = byId.get(found.summary.id);
      if (known) known.matches.push(...found.matches);
      else if (byId.size < options.limit) {
        const hit = { summary: found.summary, rank: 0, snippet: "", matches: found.matches };
        byId.set(found.summary.id, hit);
        hits.push(hit);
      }
    }
    return hits;
  }

  #metadataHits(query: string, options: { ownerId?: string; limit: number }): SearchHit[] {
    const match = toMatchExpression(query);
    if (!match) return [];
    const owner = options.ownerId !== undefined ? sql`AND s.owner_id = ${options.ownerId}` : sql``;
    const rows = this.db.all<Record<string, unknown>>(sql`
      SELECT s.*, bm25(sessions_fts) AS rank, snippet(sessions_fts, -1, '«', '»', '…', 12) AS snippet
      FROM sessions_fts JOIN sessions s ON s.rowid = sessions_fts.rowid
      WHERE sessions_fts MATCH ${match} ${owner}
      ORDER BY rank
      LIMIT ${options.limit}`);
    return rows.map((r) => ({
      summary: summaryOf(r),
      rank: Number(r.rank),
      snippet: String(r.snippet),
      matches: [{ field: "metadata", chunkIndex: null }],
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
