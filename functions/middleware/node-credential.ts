import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { NODE_CREDENTIAL_HEADER, nodeClaimsSchema } from "../nodes/credential.ts";
import type { AppEnv } from "../types.ts";
import { keyringFor } from "./jwt-keyring.ts";
import { objectNamed } from "../../platform/objects.ts";

/**
 * Node credentials, as functions/nodes issues them: HS256 JWTs signed with JWT_SECRET_KEY with
 * claims `{ typ: "node", sub: <nodeId>, pool, jti, iat, exp }`. Accepted in the nodes issue's
 * `X-Node-Credential` header or as `Authorization: Bearer` (what the Pi agent's uploader sends);
 * `typ` keeps them from ever passing as a user's access token. Every request asks the node's pool
 * whether the credential (its `jti`) is revoked or the node suspended, so a credential without
 * `pool` and `jti` — one that could not be revoked — is refused.
 */
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** Reads the claims without verifying, only to tell node credentials from access tokens. */
export function isNodeCredential(token: string): boolean {
  try {
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { typ?: unknown };
    return payload.typ === "node";
  } catch {
    return false;
  }
}

/**
 * Verifies a node credential when the request carries one and sets `node`; leaves `node`
 * undefined otherwise. A node credential that fails verification is a 401 (403 when revoked).
 */
export function nodeCredential(): MiddlewareHandler<AppEnv> {
  return async function nodeCredentialMiddleware(c, next) {
    c.set("node", undefined);
    const bearer = BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
    const token = c.req.header(NODE_CREDENTIAL_HEADER) ?? (bearer && isNodeCredential(bearer) ? bearer : undefined);
    if (token !== undefined) {
      let payload: unknown;
      try {
        // The same keyring as access tokens: JWT_SECRET_KEY, and JWT_SECRET_KEY_PREVIOUS during a rotation.
        payload = await (await keyringFor(c.get("config"))).verify(token);
      } catch {
        throw invalidNode("The node credential is invalid or expired.");
      }
      const claims = nodeClaimsSchema.safeParse(payload);
      if (!claims.success) throw invalidNode("The token is not a node credential issued by functions/nodes.");
      const { sub, pool, jti } = claims.data;
      const status = await objectNamed(c.env, "NODE_POOLS", pool).credentialStatus(sub, jti);
      if (!status.valid) throw new ApiError("credential-revoked", status.reason ?? "The node credential is not valid.");
      c.set("node", { nodeId: sub });
    }
    await next();
  };
}

function invalidNode(detail: string): ApiError {
  return new ApiError("unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="lucid", error="invalid_token"' });
}
