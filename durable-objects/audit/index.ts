import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

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
}

export interface AuditEvent extends Required<Omit<AuditEventInput, "details">> {
  id: number;
  at: number;
  details: Record<string, AuditDetail>;
}

export interface AuditQuery {
  limit: number;
  /** Only events with an id below this (paging backwards). */
  beforeId?: number;
  actorId?: string;
  action?: string;
}

/**
 * The append-only audit log (one instance, named "audit"). Functions write through
 * `audit()` in functions/audit.ts; events are never updated or deleted here.
 */
export class AuditDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  async record(event: AuditEventInput): Promise<number> {
    await this.ready();
    const row = this.db
      .insert(schema.auditEvents)
      .values({
        at: Date.now(),
        action: event.action,
        outcome: event.outcome,
        actorId: event.actorId ?? null,
        targetId: event.targetId ?? null,
        ip: event.ip ?? null,
        requestId: event.requestId ?? null,
        details: JSON.stringify(event.details ?? {}),
      })
      .returning({ id: schema.auditEvents.id })
      .get();
    return row.id;
  }

  async list(query: AuditQuery): Promise<AuditEvent[]> {
    await this.ready();
    const where: SQL[] = [];
    if (query.beforeId !== undefined) where.push(lt(schema.auditEvents.id, query.beforeId));
    if (query.actorId !== undefined) where.push(eq(schema.auditEvents.actorId, query.actorId));
    if (query.action !== undefined) where.push(eq(schema.auditEvents.action, query.action));
    const rows = this.db
      .select()
      .from(schema.auditEvents)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(schema.auditEvents.id))
      .limit(Math.max(1, Math.min(500, query.limit)))
      .all();
    return rows.map((row) => ({ ...row, details: JSON.parse(row.details) as Record<string, AuditDetail> }));
  }
}
