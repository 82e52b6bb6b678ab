import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError } from "../../shared/errors.ts";
import { ROLE_RANK, ROLES } from "../../shared/rbac.ts";
import { keyringFor } from "./jwt-keyring.ts";
import type { AppEnv, Principal, Role } from "../types.ts";
import { isNodeCredential } from "./node-credential.ts";
import { isScrapeToken } from "./scrape-token.ts";

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

/** Access tokens this isolate verified, per configuration (i.e. per keyring), until they expire. */
const VERIFIED_TOKENS_LIMIT = 4096;
const verifiedTokens = new WeakMap<object, Map<string, { principal: Principal; exp: number }>>();

/**
 * The principal of an access token this isolate already verified under `config`'s keys, if it has
 * not expired since. Verification is stateless on purpose (signature, alg pin, kid, expiry; nbf and
 * iat only grow truer), so the exact string seen again needs no HMAC and no claim parsing.
 */
export function knownPrincipal(
  token: string,
  config: AppEnv["Variables"]["config"],
  now = Math.floor(Date.now() / 1000),
): Principal | undefined {
  const verified = verifiedTokens.get(config);
  const known = verified?.get(token);
  if (!known) return undefined;
  if (known.exp > now) return { ...known.principal };
  verified!.delete(token);
  return undefined;
}

export async function principalFromHeader(header: string, config: AppEnv["Variables"]["config"]): Promise<Principal> {
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(header);
  if (!match) throw unauthorized("The Authorization header must be `Bearer <JWT>`.", "invalid_request");
  const token = match[1]!;
  const now = Math.floor(Date.now() / 1000);
  const known = knownPrincipal(token, config, now);
  if (known) return known;
  const keyring = await keyringFor(config);
  let payload: unknown;
  try {
    payload = await keyring.verify(token, now);
  } catch {
    throw unauthorized("The access token is invalid or expired.");
  }
  const claims = accessClaimsSchema.safeParse(payload);
  if (!claims.success) throw unauthorized("The access token lacks the claims Lucid requires.");
  const principal: Principal = { userId: claims.data.sub, role: claims.data.role, sessionId: claims.data.sid };
  let verified = verifiedTokens.get(config);
  if (!verified) verifiedTokens.set(config, (verified = new Map()));
  if (verified.size >= VERIFIED_TOKENS_LIMIT) verified.delete(verified.keys().next().value!);
  verified.set(token, { principal, exp: claims.data.exp });
  return { ...principal };
}

/**
 * Optional authentication: no Authorization header leaves the request anonymous; a header
 * that is present must be a valid, unexpired HS256 bearer token or the request is refused
 * with 401 — by `rejectInvalidCredentials()`, which runs after the rate limiter so that
 * guessing tokens spends the guesser's (per-address) quota. Routes that need a principal or
 * a role check for it themselves.
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async function authenticateMiddleware(c, next) {
    const header = c.req.header("Authorization");
    c.set("principal", undefined);
    c.set("authFailure", undefined);
    // Node credentials are verified by nodeCredential() on the routes that accept them, the
    // metrics scrape token by scrapeTokenOr() on /system/metrics; elsewhere both are anonymous.
    const bearer = /^Bearer (\S+)$/.exec(header ?? "")?.[1];
    // A token verified before (never a node credential or the scrape token: neither passes the claims).
    const known = bearer === undefined ? undefined : knownPrincipal(bearer, c.get("config"));
    if (known) c.set("principal", known);
    else if (header !== undefined && !(bearer && (isNodeCredential(bearer) || isScrapeToken(bearer, c.get("config"))))) {
      try {
        c.set("principal", await principalFromHeader(header, c.get("config")));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        c.set("authFailure", error);
      }
    }
    await next();
  };
}

/** Refuses the request whose credentials `authenticate()` found invalid. */
export function rejectInvalidCredentials(): MiddlewareHandler<AppEnv> {
  return async function rejectInvalidCredentialsMiddleware(c, next) {
    const failure = c.get("authFailure");
    if (failure) throw failure;
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
