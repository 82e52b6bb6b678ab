import type { MiddlewareHandler } from "hono";
import { verify } from "hono/jwt";
import { z } from "zod";
import { ApiError } from "../../shared/errors.ts";
import type { AppEnv, Principal, Role } from "../types.ts";
import { isNodeCredential } from "./node-credential.ts";

/** Claims every Lucid access token carries (issued by functions/auth). */
export const accessClaimsSchema = z.object({
  sub: z.string().min(1).max(128),
  role: z.enum(["USER", "NODE_OPERATOR", "ADMIN", "SUPER_ADMIN"]),
  exp: z.number().int(),
  iat: z.number().int().optional(),
  typ: z.literal("access").optional(),
});

function unauthorized(detail: string, error = "invalid_token"): ApiError {
  return new ApiError("unauthorized", detail, {}, { "WWW-Authenticate": `Bearer realm="lucid", error="${error}"` });
}

/**
 * Optional authentication: no Authorization header leaves the request anonymous; a header
 * that is present must be a valid, unexpired HS256 bearer token or the request is refused
 * with 401. Routes that need a principal or a role check for it themselves.
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async function authenticateMiddleware(c, next) {
    const header = c.req.header("Authorization");
    c.set("principal", undefined);
    if (header !== undefined) {
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(header);
      if (!match) throw unauthorized("The Authorization header must be `Bearer <JWT>`.", "invalid_request");
      // Node credentials are verified by nodeCredential() on the routes that accept them.
      if (isNodeCredential(match[1]!)) return next();
      let payload: unknown;
      try {
        payload = await verify(match[1]!, c.get("config").JWT_SECRET_KEY, "HS256");
      } catch {
        throw unauthorized("The access token is invalid or expired.");
      }
      const claims = accessClaimsSchema.safeParse(payload);
      if (!claims.success) throw unauthorized("The access token lacks the claims Lucid requires.");
      c.set("principal", { userId: claims.data.sub, role: claims.data.role });
    }
    await next();
  };
}

/** Roles in increasing order of power; each includes what the ones before it may do. */
export const ROLE_RANK: Record<Role, number> = { USER: 0, NODE_OPERATOR: 1, ADMIN: 2, SUPER_ADMIN: 3 };

/** The authenticated caller, or 401. */
export function principalOf(c: { get(key: "principal"): Principal | undefined }): Principal {
  const principal = c.get("principal");
  if (!principal) throw unauthorized("This route needs an access token.", "invalid_request");
  return principal;
}

/** 401 without a token, 403 when the caller's role ranks below `minimum`. */
export function requireRole(minimum: Role): MiddlewareHandler<AppEnv> {
  return async function requireRoleMiddleware(c, next) {
    const principal = principalOf(c);
    if (ROLE_RANK[principal.role] < ROLE_RANK[minimum]) {
      throw new ApiError("forbidden", `This action needs the ${minimum} role or higher.`);
    }
    await next();
  };
}
