import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { can, isPrivileged, PUBLIC, type Permission } from "../../shared/rbac.ts";
import type { AppEnv, Principal } from "../types.ts";
import { principalOf } from "./authenticate.ts";
import { currentPrincipal, isWrite, refused } from "./standing.ts";

/**
 * Enforces shared/rbac.ts: 401 without a token, 403 when the caller's role lacks `permission`.
 * `public` admits everyone (the gateway's authenticate() still refuses a bad token).
 * A write under a privileged permission (shared/rbac.ts PRIVILEGED) is judged by the caller's
 * current role and login session (functions/middleware/standing.ts), not by the token alone;
 * the route then sees that current role as the principal's.
 */
export function requirePermission(permission: Permission | typeof PUBLIC): MiddlewareHandler<AppEnv> {
  return async function requirePermissionMiddleware(c, next) {
    if (permission !== PUBLIC) {
      const claimed = principalOf(c);
      assertCan(claimed, permission);
      if (isPrivileged(permission) && isWrite(c.req.method)) {
        const current = await currentPrincipal(c);
        if (!can(current.role, permission)) {
          await refused(c, claimed, "role-lowered", current.role);
          throw new ApiError(
            "forbidden",
            `This action needs the "${permission}" permission; your role is now ${current.role} (the token says ${claimed.role}).`,
          );
        }
        c.set("principal", current);
      }
    }
    await next();
  };
}

function assertCan(principal: Principal, permission: Permission): void {
  if (!can(principal.role, permission)) {
    throw new ApiError("forbidden", `This action needs the "${permission}" permission, which the ${principal.role} role lacks.`);
  }
}

/**
 * The route options that guard a createRoute() definition: the middleware, and `x-permission`
 * in the OpenAPI document so clients (and the RBAC walk test) can read what each route needs.
 */
export function guarded(permission: Permission | typeof PUBLIC) {
  return { middleware: requirePermission(permission), "x-permission": permission };
}

/**
 * Ownership: the caller may act on `ownerId`'s resource if it is their own, or if their role
 * holds `anyPermission` (e.g. "users:read:any"). Otherwise 403.
 */
export function assertOwnerOr(principal: Principal, ownerId: string, anyPermission: Permission): void {
  if (principal.userId === ownerId) return;
  if (can(principal.role, anyPermission)) return;
  throw new ApiError("forbidden", "This resource belongs to another user.");
}
