import type { Context } from "hono";
import type { Env } from "../../platform/env.ts";
import { audit, type AuditEventInput } from "../audit.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import type { AppEnv } from "../types.ts";
import { singleton } from "../../platform/objects.ts";

export function adminStub(env: Env) {
  return singleton(env, "ADMIN");
}

export function auditStub(env: Env) {
  return singleton(env, "AUDIT");
}

type AdminStub = ReturnType<typeof adminStub>;

export function callAdmin<P extends Promise<unknown>>(env: Env, method: string, call: (stub: AdminStub) => P): Promise<Awaited<P>> {
  return callDurableObject("AdminDO", method, () => call(adminStub(env)));
}

/**
 * Records an admin action with who (the caller), where from (ip) and which request, plus the
 * target's state before and after. Awaited: an action whose record failed is not reported done.
 */
export function auditAdmin(c: Context<AppEnv>, event: Omit<AuditEventInput, "actorId" | "ip" | "requestId">): Promise<number> {
  return audit(c.env, { ...event, actorId: principalOf(c).userId, ip: clientAddress(c), requestId: c.get("requestId") });
}

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
