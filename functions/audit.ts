import type { AuditEventInput } from "../durable-objects/audit/index.ts";
import type { Env } from "../platform/env.ts";
import { callDurableObject } from "./do-call.ts";
import { singleton } from "../platform/objects.ts";

export type { AuditEventInput } from "../durable-objects/audit/index.ts";

/**
 * Records one audit event (the write API every function uses):
 *
 *   await audit(c.env, { action: "users.role_change", outcome: "success", actorId, targetId, details: { from, to } });
 *
 * Awaited and throwing on purpose: a security-relevant change whose audit record could not be
 * written must not be reported as done. Never put secrets, tokens or signatures in `details`.
 */
export async function audit(env: Env, event: AuditEventInput): Promise<number> {
  return callDurableObject("AuditDO", "record", () => singleton(env, "AUDIT").record(event));
}
