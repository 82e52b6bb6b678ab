import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError } from "../../shared/errors.ts";
import { ROLE_RANK, ROLES } from "../../shared/rbac.ts";
import { keyringFor } from "./jwt-keyring.ts";
import type { AppEnv, Principal, Role } from "../types.ts";

/** Claims every Lucid access token carries (issued by functions/auth). */
export const accessClaimsSchema = z.object({
  sub: z.string().min(1).max(128),
  role: z.enum(ROLES),
  exp: z.number().int(),
  iat: z.number().int().optional(),
  typ: z.literal("access").optional(),
  /** The login session (refresh-token family) this token belongs to, when issued by functions/auth. */
  sid: z.string().max(64).optional(),
});

export type AccessClaims = z.infer<typeof accessClaimsSchema>;

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
      let payload: unknown;
      try {
        // Stateless on purpose (every request): signature, alg pin, kid and expiry only.
        payload = await (await keyringFor(c.get("config"))).verify(match[1]!);
      } catch {
        throw unauthorized("The access token is invalid or expired.");
      }
      const claims = accessClaimsSchema.safeParse(payload);
      if (!claims.success) throw unauthorized("The access token lacks the claims Lucid requires.");
      c.set("principal", { userId: claims.data.sub, role: claims.data.role, sessionId: claims.data.sid });
    }
    await next();
  };
}

/** Roles in increasing order of power (defined with the permission table in shared/rbac.ts). */
export { ROLE_RANK };

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
