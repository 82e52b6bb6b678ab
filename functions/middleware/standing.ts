import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { ROLE_RANK, type Role } from "../../shared/rbac.ts";
import { audit } from "../audit.ts";
import { directory, effectiveRole, userStub } from "../auth/login.ts";
import { callDurableObject } from "../do-call.ts";
import type { AppEnv, Principal } from "../types.ts";
import { principalOf } from "./authenticate.ts";
import { clientAddress } from "./rate-limit.ts";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isWrite(method: string): boolean {
  return !READS.has(method.toUpperCase());
}

// One look-up per request, however many guards ask (e.g. "/wallets/*" and "/wallets/backup").
const standings = new WeakMap<Request, Promise<Principal>>();

/**
 * The caller as of now, not as of their token: the role comes from the user directory (the
 * single writer of roles), the login session from the caller's UserDO. A revoked, expired or
 * unknown session, or a token without one, is 401; a role that was lowered is returned lowered
 * (ADMIN+ also needs the session to have passed TOTP). Never more than the token claims: a
 * promotion takes effect with the next login. Costs two Durable Object calls (in parallel),
 * so only privileged writes ask (functions/middleware/authorize.ts).
 */
export function currentPrincipal(c: Context<AppEnv>): Promise<Principal> {
  let pending = standings.get(c.req.raw);
  if (!pending) {
    pending = lookUp(c, principalOf(c));
    standings.set(c.req.raw, pending);
  }
  return pending;
}

async function lookUp(c: Context<AppEnv>, principal: Principal): Promise<Principal> {
  const sessionId = principal.sessionId;
  if (!sessionId) {
    await refused(c, principal, "no-session");
    throw sessionOver("This action needs an access token of a login session (issued by /api/v1/auth); log in again.");
  }
  const [user, session] = await Promise.all([
    callDurableObject("UserIndexDO", "get", () => directory(c).get(principal.userId)),
    callDurableObject("UserDO", "sessionStanding", () => userStub(c, principal.userId).sessionStanding(sessionId)),
  ]);
  if (!user || !session.active) {
    await refused(c, principal, user ? "session-over" : "unknown-user");
    throw sessionOver("The login session behind this token was revoked or has ended; log in again.");
  }
  const now: Role = effectiveRole(user.role, session.secondFactor);
  return ROLE_RANK[now] >= ROLE_RANK[principal.role] ? principal : { ...principal, role: now };
}

/** Every stale-privilege attempt is audited: a demoted or signed-out admin still trying is worth seeing. */
export async function refused(c: Context<AppEnv>, principal: Principal, reason: string, currentRole?: Role): Promise<void> {
  await audit(c.env, {
    action: "auth.stale_privilege",
    outcome: "failure",
    actorId: principal.userId,
    targetId: principal.userId,
    ip: clientAddress(c),
    requestId: c.get("requestId"),
    details: {
      reason,
      tokenRole: principal.role,
      currentRole: currentRole ?? null,
      method: c.req.method,
      path: c.req.path,
      sessionId: principal.sessionId ?? null,
    },
  });
}

function sessionOver(detail: string): ApiError {
  return new ApiError("unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="lucid", error="invalid_token"' });
}
