import { and, asc, desc, eq, gt, gte, isNull, like, lt, lte, sql, type SQL } from "drizzle-orm";
import { AUDIT_GENESIS_HASH, auditEventHash, findAuditChainBreak, toCanonicalValue, type AuditChainBreak } from "../../shared/audit.ts";
import type { Canonical } from "../../shared/chain/canonical.ts";
import type { SignedHeader } from "../../shared/chain/block.ts";
import type { TxInclusionProof } from "../../shared/chain/proof.ts";
import { encodeTx, type AnchorTx, type ChainTx } from "../../shared/chain/transactions.ts";
import { loadConfig } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import { SqlDurableObject } from "../base.ts";
import { wakeBy } from "../scheduler.ts";
import { toMatchExpression } from "../session-index/index.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";
import { singleton } from "../../platform/objects.ts";

/** Detail values: plain JSON scalars or lists of strings (keeps events small and RPC-typed). */
export type AuditDetail = string | number | boolean | null | string[];

/** What a function records. `action` is dotted and stable, e.g. `auth.login`, `users.role_change`. */
export interface AuditEventInput {
  action: string;
  outcome: "success" | "failure";
  actorId?: string | null;
  targetId?: string | null;
  ip?: string | null;
  requestId?: string | null;
  /** Small JSON-serialisable facts; never secrets, tokens or signatures. */
  details?: Record<string, AuditDetail>;
  /** The target's state before and after an admin change (JSON; floats are kept as strings). */
  before?: unknown;
  after?: unknown;
}

export interface AuditEvent {
  id: number;
  at: number;
  action: string;
  outcome: "success" | "failure";
  actorId: string | null;
  targetId: string | null;
  ip: string | null;
  requestId: string | null;
  details: Record<string, AuditDetail>;
  /** JSON text of the target's state before/after (text: a recursive JSON type defeats the RPC type mapping). */
  before: string | null;
  after: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  limit: number;
  /** Only events with an id below this (paging backwards, newest first). */
  beforeId?: number;
  actorId?: string;
  targetId?: string;
  /** Exact action, or a prefix when it ends in `.` or `*` (e.g. `auth.`). */
  action?: string;
  outcome?: "success" | "failure";
  requestId?: string;
  from?: number;
  to?: number;
  /** Free text over action, actor, target, request id, details, before and after (FTS5, prefix terms). */
  q?: string;
}

export interface AuditAnchorView {
  eventId: number;
  head: string;
  txId: string;
  submittedAt: number;
  blockHeight: number | null;
  blockHash: string | null;
  anchoredAt: number | null;
}

export interface AuditVerifyReport {
  ok: boolean;
  events: number;
  head: string;
  firstBroken: (AuditChainBreak & { action: string | null; at: number | null }) | null;
  /** Anchors whose head no longer equals the hash of the event they cover. */
  anchorMismatches: number[];
}

export interface AuditExportRange {
  prevHash: string;
  events: AuditEvent[];
  anchors: (AuditAnchorView & { evidence: AnchorEvidenceView | null })[];
  head: { id: number; hash: string } | null;
}

/** Where an anchored head sits on the chain: its transaction, inclusion proof and signed block header. */
export interface AnchorEvidenceView {
  tx: AnchorTx;
  txId: string;
  proof: TxInclusionProof;
  block: SignedHeader;
}

/** The pseudo-session id under which the log's head is anchored on the Lucid chain. */
export const AUDIT_CHAIN_ID = "lucid-audit-log";
const VERIFY_BATCH = 500;

type Row = typeof schema.auditEvents.$inferSelect;

function parseJson(text: string | null): Canonical {
  if (text === null) return null;
  try {
    return JSON.parse(text) as Canonical;
  } catch {
    return text; // a tampered row: verify reports it, listing still works
  }
}

function toAnchorEvidence(
  found: { tx: ChainTx; txId: string; proof: TxInclusionProof; block: SignedHeader } | null,
): AnchorEvidenceView | null {
  if (!found || found.tx.type !== "anchor") return null;
  return { ...found, tx: found.tx };
}

function toHashed(row: Row) {
  return { ...toEvent(row), details: parseJson(row.details), before: parseJson(row.before), after: parseJson(row.after) };
}

function toEvent(row: Row): AuditEvent {
  return {
    id: row.id,
    at: row.at,
    action: row.action,
    outcome: row.outcome,
    actorId: row.actorId,
    targetId: row.targetId,
    ip: row.ip,
    requestId: row.requestId,
    details: parseJson(row.details) as Record<string, AuditDetail>,
    before: row.before,
    after: row.after,
    prevHash: row.prevHash ?? "",
    hash: row.hash ?? "",
  };
}

/**
 * The append-only, hash-chained audit log (one instance, named "audit"). Functions write
 * through `audit()` in functions/audit.ts; events are never updated or deleted here. An alarm
 * anchors the head on the Lucid chain (an interim anchor under AUDIT_CHAIN_ID) and records the
 * block once it is included, so the export carries chain proofs.
 */
export class AuditDO extends SqlDurableObject<typeof schema, Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, schema, migrations);
  }

  /** Rows written before the chain existed get their links now, in id order. */
  protected override onStart(): void {
    const unhashed = this.db
      .select()
      .from(schema.auditEvents)
      .where(isNull(schema.auditEvents.hash))
      .orderBy(asc(schema.auditEvents.id))
      .all();
    if (!unhashed.length) return;
    this.ctx.storage.transactionSync(() => {
      for (const row of unhashed) {
        const prev = this.#hashBefore(row.id);
        const event = { ...toHashed(row), details: toCanonicalValue(parseJson(row.details)) };
        const hash = auditEventHash(event, prev);
        this.db.update(schema.auditEvents).set({ prevHash: prev, hash }).where(eq(schema.auditEvents.id, row.id)).run();
      }
    });
  }

  #hashBefore(id: number): string {
    const row = this.db
      .select({ hash: schema.auditEvents.hash })
      .from(schema.auditEvents)
      .where(lt(schema.auditEvents.id, id))
      .orderBy(desc(schema.auditEvents.id))
      .limit(1)
      .get();
    return row?.hash ?? AUDIT_GENESIS_HASH;
  }

  #last(): { id: number; hash: string } | undefined {
    const row = this.db
      .select({ id: schema.auditEvents.id, hash: schema.auditEvents.hash })
      .from(schema.auditEvents)
      .orderBy(desc(schema.auditEvents.id))
      .limit(1)
      .get();
    return row ? { id: row.id, hash: row.hash ?? "" } : undefined;
  }

  async record(event: AuditEventInput): Promise<number> {
    await this.ready();
    const id = this.ctx.storage.transactionSync(() => {
      const last = this.#last();
      const fields = {
        id: (last?.id ?? 0) + 1,
        at: Date.now(),
        action: event.action,
        outcome: event.outcome,
        actorId: event.actorId ?? null,
        targetId: event.targetId ?? null,
        ip: event.ip ?? null,
        requestId: event.requestId ?? null,
        details: toCanonicalValue(event.details ?? {}),
        before: toCanonicalValue(event.before),
        after: toCanonicalValue(event.after),
      };
      const prevHash = last?.hash ?? AUDIT_GENESIS_HASH;
      const hash = auditEventHash(fields, prevHash);
      this.db
        .insert(schema.auditEvents)
        .values({
          ...fields,
          details: JSON.stringify(fields.details),
          before: fields.before === null ? null : JSON.stringify(fields.before),
          after: fields.after === null ? null : JSON.stringify(fields.after),
          prevHash,
          hash,
        })
        .run();
      return fields.id;
    });
    await this.#armAnchorAlarm();
    return id;
  }

  /** Newest first (a plain page, for callers that do not page on). */
  async list(query: AuditQuery): Promise<AuditEvent[]> {
    return (await this.search(query)).items;
  }

  /** Newest first; `nextBeforeId` continues the listing (null at the end). */
  async search(query: AuditQuery): Promise<{ items: AuditEvent[]; nextBeforeId: number | null }> {
    await this.ready();
    const e = schema.auditEvents;
    const limit = Math.max(1, Math.min(500, query.limit));
    const where: (SQL | undefined)[] = [
      query.beforeId !== undefined ? lt(e.id, query.beforeId) : undefined,
      query.actorId !== undefined ? eq(e.actorId, query.actorId) : undefined,
      query.targetId !== undefined ? eq(e.targetId, query.targetId) : undefined,
      query.outcome !== undefined ? eq(e.outcome, query.outcome) : undefined,
      query.requestId !== undefined ? eq(e.requestId, query.requestId) : undefined,
      query.from !== undefined ? gte(e.at, query.from) : undefined,
      query.to !== undefined ? lte(e.at, query.to) : undefined,
    ];
    if (query.action !== undefined) {
      const prefix = /[.*]$/.test(query.action) ? query.action.replace(/\*$/, "") : null;
      where.push(prefix !== null ? like(e.action, `${prefix.replace(/[\\%_]/g, (m) => `\\${m}`)}%`) : eq(e.action, query.action));
    }
    if (query.q !== undefined) {
      const match = toMatchExpression(query.q);
      if (!match) return { items: [], nextBeforeId: null };
      where.push(sql`${e.id} IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ${match})`);
    }
    const rows = this.db
      .select()
      .from(e)
      .where(and(...where))
      .orderBy(desc(e.id))
      .limit(limit + 1)
      .all();
    const items = rows.slice(0, limit).map(toEvent);
    return { items, nextBeforeId: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  /** Recomputes every link from the first event; names the first event that does not verify. */
  async verify(): Promise<AuditVerifyReport> {
    await this.ready();
    let prev = AUDIT_GENESIS_HASH;
    let expectedId = 1;
    let count = 0;
    for (;;) {
      const rows = this.db
        .select()
        .from(schema.auditEvents)
        .where(gte(schema.auditEvents.id, expectedId))
        .orderBy(asc(schema.auditEvents.id))
        .limit(VERIFY_BATCH)
        .all();
      if (!rows.length) break;
      const broken = findAuditChainBreak(rows.map(toHashed), prev, expectedId);
      if (broken) {
        const row = rows.find((r) => r.id === broken.id);
        return {
          ok: false,
          events: count + rows.findIndex((r) => r.id === broken.id),
          head: prev,
          firstBroken: { ...broken, action: row?.action ?? null, at: row?.at ?? null },
          anchorMismatches: [],
        };
      }
      count += rows.length;
      prev = rows[rows.length - 1]!.hash ?? "";
      expectedId = rows[rows.length - 1]!.id + 1;
    }
    const anchorMismatches = this.db
      .all<{ event_id: number }>(
        sql`SELECT a.event_id FROM audit_anchors a LEFT JOIN audit_events e ON e.id = a.event_id WHERE e.hash IS NULL OR e.hash <> a.head`,
      )
      .map((r) => Number(r.event_id));
    return { ok: anchorMismatches.length === 0, events: count, head: prev, firstBroken: null, anchorMismatches };
  }

  /**
   * Events `fromId..toId` (at most `limit`), the hash before the first, and every anchor that
   * covers an event in the range, with its chain evidence once it is in a block.
   */
  async exportRange(fromId: number, toId: number | undefined, limit: number): Promise<AuditExportRange> {
    await this.ready();
    const e = schema.auditEvents;
    const rows = this.db
      .select()
      .from(e)
      .where(and(gte(e.id, fromId), toId !== undefined ? lte(e.id, toId) : undefined))
      .orderBy(asc(e.id))
      .limit(limit)
      .all();
    const events = rows.map(toEvent);
    const lastId = events[events.length - 1]?.id ?? fromId;
    // Anchors inside the range, plus the first one at or after its end (it covers the whole range).
    const inside = this.db
      .select()
      .from(schema.auditAnchors)
      .where(and(gte(schema.auditAnchors.eventId, fromId), lte(schema.auditAnchors.eventId, lastId)))
      .orderBy(asc(schema.auditAnchors.eventId))
      .all();
    const covering = this.db
      .select()
      .from(schema.auditAnchors)
      .where(gt(schema.auditAnchors.eventId, lastId))
      .orderBy(asc(schema.auditAnchors.eventId))
      .limit(1)
      .all();
    const chain = this.#chain();
    const anchors = await Promise.all(
      [...inside, ...covering].map(async (anchor) => ({
        ...anchor,
        evidence: anchor.blockHeight === null ? null : toAnchorEvidence(await chain.transactionEvidence(anchor.txId)),
      })),
    );
    return { prevHash: events.length ? events[0]!.prevHash : this.#hashBefore(fromId), events, anchors, head: this.#last() ?? null };
  }

  async anchorStatus(): Promise<{ events: number; head: string; anchors: AuditAnchorView[] }> {
    await this.ready();
    const last = this.#last();
    const anchors = this.db.select().from(schema.auditAnchors).orderBy(desc(schema.auditAnchors.eventId)).limit(10).all();
    return { events: last?.id ?? 0, head: last?.hash ?? AUDIT_GENESIS_HASH, anchors };
  }

  #chain() {
    return singleton(this.env, "CHAIN");
  }

  async #armAnchorAlarm(): Promise<void> {
    const config = loadConfig(this.env);
    if (!config.ANCHORING_ENABLED) return;
    await wakeBy(this.ctx.storage, Date.now() + config.AUDIT_ANCHOR_INTERVAL_SECONDS * 1000);
  }

  /** Anchors the head if it moved, then records which submitted heads reached a block. */
  override async alarm(): Promise<void> {
    await this.ready();
    const config = loadConfig(this.env);
    if (!config.ANCHORING_ENABLED) return;
    try {
      await this.anchorNow();
      await this.#collectInclusions();
    } catch (error) {
      logEvent("warn", "audit.anchor_failed", { error: String(error) }, config.LOG_LEVEL);
    }
    const last = this.#last();
    const latest = this.db.select().from(schema.auditAnchors).orderBy(desc(schema.auditAnchors.eventId)).limit(1).get();
    const pending = this.db
      .select({ id: schema.auditAnchors.eventId })
      .from(schema.auditAnchors)
      .where(isNull(schema.auditAnchors.blockHeight))
      .limit(1)
      .get();
    if (pending || (last && (!latest || latest.eventId < last.id))) {
      await this.ctx.storage.setAlarm(Date.now() + config.AUDIT_ANCHOR_INTERVAL_SECONDS * 1000);
    }
  }

  /** Submits the current head to the chain's mempool unless it is already anchored; returns the anchor. */
  async anchorNow(): Promise<AuditAnchorView | null> {
    await this.ready();
    const last = this.#last();
    if (!last) return null;
    const existing = this.db.select().from(schema.auditAnchors).where(eq(schema.auditAnchors.eventId, last.id)).get();
    if (existing) return existing;
    const tx: AnchorTx = {
      type: "anchor",
      sessionId: AUDIT_CHAIN_ID,
      root: last.hash,
      chunkCount: last.id,
      owner: "lucid-audit",
      node: "lucid-audit",
      interim: true,
    };
    const result = await this.#chain().submit([tx]);
    if (!result.ok) throw new Error(`the chain refused the audit anchor: ${result.message}`);
    const row = {
      eventId: last.id,
      head: last.hash,
      txId: encodeTx(tx).id,
      submittedAt: Date.now(),
      blockHeight: null,
      blockHash: null,
      anchoredAt: null,
    };
    this.db.insert(schema.auditAnchors).values(row).onConflictDoNothing().run();
    return row;
  }

  async #collectInclusions(): Promise<void> {
    const pending = this.db
      .select()
      .from(schema.auditAnchors)
      .where(isNull(schema.auditAnchors.blockHeight))
      .orderBy(asc(schema.auditAnchors.eventId))
      .limit(50)
      .all();
    for (const anchor of pending) {
      const evidence = await this.#chain().transactionEvidence(anchor.txId);
      if (!evidence) continue;
      this.db
        .update(schema.auditAnchors)
        .set({ blockHeight: evidence.block.header.height, blockHash: evidence.block.hash, anchoredAt: evidence.block.header.timestamp })
        .where(eq(schema.auditAnchors.eventId, anchor.eventId))
        .run();
    }
  }
}
