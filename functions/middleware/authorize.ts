import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { can, PUBLIC, type Permission } from "../../shared/rbac.ts";
import type { AppEnv, Principal } from "../types.ts";
import { principalOf } from "./authenticate.ts";

/**
 * Enforces shared/rbac.ts: 401 without a token, 403 when the caller's role lacks `permission`.
 * `public` admits everyone (the gateway's authenticate() still refuses a bad token).
 */
export function requirePermission(permission: Permission | typeof PUBLIC): MiddlewareHandler<AppEnv> {
  return async function requirePermissionMiddleware(c, next) {
    if (permission !== PUBLIC) {
      const principal = principalOf(c);
      if (!can(principal.role, permission)) {
        throw new ApiError("forbidden", `This action needs the "${permission}" permission, which the ${principal.role} role lacks.`);
      }
    }
    await next();
  };
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
