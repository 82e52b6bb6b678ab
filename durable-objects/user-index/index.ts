import { asc, count, eq, gt } from "drizzle-orm";
import { changesAdminAuthority, mayChangeRole, type Role } from "../../shared/rbac.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export type UserRecord = typeof schema.users.$inferSelect;

export type RoleChangeResult =
  | { ok: true; before: Role; after: Role; user: UserRecord }
  | { ok: false; reason: "actor-unknown" | "not-found" | "forbidden" | "second-factor-required" | "last-super-admin" };

export type ProfileUpdateResult = { ok: true; user: UserRecord } | { ok: false; reason: "not-found" | "email-taken" };

/**
 * The user directory (one instance, named "directory"): lookup by id, TRON address and email,
 * and the single writer of roles, so role rules (incl. "the last SUPER_ADMIN stays") hold
 * under concurrency. Credentials and sessions live in each user's UserDO.
 */
export class UserIndexDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  /** The user owning `address`, created (as USER, or SUPER_ADMIN when bootstrapping) on first login. */
  async findOrCreateByAddress(address: string, bootstrapSuperAdmin: boolean): Promise<{ user: UserRecord; created: boolean }> {
    await this.ready();
    const existing = this.db.select().from(schema.users).where(eq(schema.users.tronAddress, address)).get();
    if (existing) return { user: existing, created: false };
    const now = Date.now();
    const user = this.db
      .insert(schema.users)
      .values({
        id: crypto.randomUUID(),
        tronAddress: address,
        role: bootstrapSuperAdmin && this.#countRole("SUPER_ADMIN") === 0 ? "SUPER_ADMIN" : "USER",
        createdAt: now,
        updatedAt: now,
      })
      .returning()
      .get();
    return { user, created: true };
  }

  async get(id: string): Promise<UserRecord | null> {
    await this.ready();
    return this.db.select().from(schema.users).where(eq(schema.users.id, id)).get() ?? null;
  }

  async findByEmail(email: string): Promise<UserRecord | null> {
    await this.ready();
    return this.db.select().from(schema.users).where(eq(schema.users.email, email.toLowerCase())).get() ?? null;
  }

  async list(limit: number, afterId?: string): Promise<UserRecord[]> {
    await this.ready();
    return this.db
      .select()
      .from(schema.users)
      .where(afterId ? gt(schema.users.id, afterId) : undefined)
      .orderBy(asc(schema.users.id))
      .limit(Math.max(1, Math.min(200, limit)))
      .all();
  }

  /** Self-service fields only; the role is not among them (see changeRole). */
  async updateProfile(id: string, patch: { email?: string | null; displayName?: string | null }): Promise<ProfileUpdateResult> {
    await this.ready();
    const user = this.db.select().from(schema.users).where(eq(schema.users.id, id)).get();
    if (!user) return { ok: false, reason: "not-found" };
    const email = patch.email === undefined ? user.email : patch.email === null ? null : patch.email.toLowerCase();
    if (email && email !== user.email) {
      const owner = this.db.select({ id: schema.users.id }).from(schema.users).where(eq(schema.users.email, email)).get();
      if (owner) return { ok: false, reason: "email-taken" };
    }
    const updated = this.db
      .update(schema.users)
      .set({
        email,
        displayName: patch.displayName === undefined ? user.displayName : patch.displayName,
        updatedAt: Date.now(),
      })
      .where(eq(schema.users.id, id))
      .returning()
      .get();
    return { ok: true, user: updated };
  }

  /**
   * Changes `targetId`'s role if `actorId` (judged by the directory's current role, not by a
   * possibly stale token) may: ADMIN+ changes roles, ADMIN/SUPER_ADMIN are granted or taken
   * away only by a SUPER_ADMIN who passed a second factor for this very request (`steppedUp`,
   * judged against the target's role as stored now, so a role that changed meanwhile cannot slip
   * an ADMIN change through without one), and the last SUPER_ADMIN cannot be demoted.
   */
  async changeRole(actorId: string, targetId: string, role: Role, steppedUp: boolean): Promise<RoleChangeResult> {
    await this.ready();
    const actor = this.db.select().from(schema.users).where(eq(schema.users.id, actorId)).get();
    if (!actor) return { ok: false, reason: "actor-unknown" };
    const target = this.db.select().from(schema.users).where(eq(schema.users.id, targetId)).get();
    if (!target) return { ok: false, reason: "not-found" };
    if (!mayChangeRole(actor.role, target.role, role)) return { ok: false, reason: "forbidden" };
    if (changesAdminAuthority(target.role, role) && !steppedUp) return { ok: false, reason: "second-factor-required" };
    if (target.role === "SUPER_ADMIN" && role !== "SUPER_ADMIN" && this.#countRole("SUPER_ADMIN") <= 1) {
      return { ok: false, reason: "last-super-admin" };
    }
    const user = this.db.update(schema.users).set({ role, updatedAt: Date.now() }).where(eq(schema.users.id, targetId)).returning().get();
    return { ok: true, before: target.role, after: role, user };
  }

  #countRole(role: Role): number {
    return this.db.select({ n: count() }).from(schema.users).where(eq(schema.users.role, role)).get()?.n ?? 0;
  }
}
