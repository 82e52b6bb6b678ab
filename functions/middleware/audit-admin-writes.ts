import type { MiddlewareHandler } from "hono";
import { ROLE_RANK } from "../../shared/rbac.ts";
import { audit } from "../audit.ts";
import type { AppEnv } from "../types.ts";
import { clientAddress } from "./rate-limit.ts";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Surfaces that write their own, richer audit records (with before/after). */
const SELF_AUDITED = /^\/api\/v1\/(admin|auth|users)(\/|$)/;

/**
 * The safety net behind "every admin action is audited": a write by an ADMIN or SUPER_ADMIN on
 * any other surface (node suspension, payments, chain submissions, session deletion, …) is
 * recorded as `admin.request` with method, path, status and request id, whether it succeeded or
 * was refused. Runs after the route, so the outcome is known.
 */
export function auditAdminWrites(): MiddlewareHandler<AppEnv> {
  return async function auditAdminWritesMiddleware(c, next) {
    await next();
    const principal = c.get("principal");
    if (!principal || ROLE_RANK[principal.role] < ROLE_RANK.ADMIN) return;
    if (READS.has(c.req.method) || SELF_AUDITED.test(c.req.path)) return;
    const status = c.res.status;
    const segments = c.req.path.split("/").filter(Boolean);
    const target = segments.find((s) => /^[A-Za-z_]*[0-9a-f]{8}-[0-9a-f]{4}-/.test(s) || /^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(s)) ?? null;
    await audit(c.env, {
      action: "admin.request",
      outcome: status < 400 ? "success" : "failure",
      actorId: principal.userId,
      targetId: target,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: { method: c.req.method, path: c.req.path, status, role: principal.role },
    });
  };
}
