import { sign, verify } from "hono/jwt";
import { z } from "zod";
import { ApiError } from "../../shared/errors.ts";
import type { Env } from "../../platform/env.ts";
import { objectNamed } from "../../platform/objects.ts";

/**
 * Node credentials: the token a node's agent presents (header X-Node-Credential; the gateway's
 * Authorization header carries user access tokens only). HS256 with JWT_SECRET_KEY, claims
 * { typ: "node", sub: nodeId, pool, jti, iat, exp }. Revocation lives in the node's pool:
 * a verifier checks the signature and claims with `verifyNodeCredential`, which also asks the
 * pool (`NodePoolDO.credentialStatus(sub, jti)`) whether the jti is unrevoked and the node not
 * suspended or terminated.
 */
export const NODE_CREDENTIAL_HEADER = "X-Node-Credential";

export const nodeClaimsSchema = z.object({
  typ: z.literal("node"),
  sub: z.string().min(1).max(64),
  pool: z.string().regex(/^pool-[0-9]{1,6}$/),
  jti: z.string().min(1).max(64),
  iat: z.number().int(),
  exp: z.number().int(),
});
export type NodeClaims = z.infer<typeof nodeClaimsSchema>;

export interface IssuedCredential {
  token: string;
  jti: string;
  issuedAt: number;
  expiresAt: number;
}

/** A fresh jti and its lifetime; the pool records the jti before the token is signed. */
export function newCredential(ttlSeconds: number): Omit<IssuedCredential, "token"> {
  const issuedAt = Date.now();
  return { jti: crypto.randomUUID(), issuedAt, expiresAt: issuedAt + ttlSeconds * 1000 };
}

export function signNodeCredential(
  secret: string,
  nodeId: string,
  pool: string,
  credential: Omit<IssuedCredential, "token">,
): Promise<string> {
  const claims: NodeClaims = {
    typ: "node",
    sub: nodeId,
    pool,
    jti: credential.jti,
    iat: Math.floor(credential.issuedAt / 1000),
    exp: Math.floor(credential.expiresAt / 1000),
  };
  return sign(claims, secret, "HS256");
}

function unauthorized(detail: string): ApiError {
  return new ApiError("unauthorized", detail, {}, { "WWW-Authenticate": 'NodeCredential realm="lucid"' });
}

/** Signature, expiry and claims only (no revocation check): 401 otherwise. */
export async function decodeNodeCredential(secret: string, token: string | undefined): Promise<NodeClaims> {
  if (!token) throw unauthorized(`This route needs a node credential in the ${NODE_CREDENTIAL_HEADER} header.`);
  let payload: unknown;
  try {
    payload = await verify(token, secret, "HS256");
  } catch {
    throw unauthorized("The node credential is invalid or expired.");
  }
  const claims = nodeClaimsSchema.safeParse(payload);
  if (!claims.success) throw unauthorized("The token is not a node credential.");
  return claims.data;
}

/** Full verification for other functions (e.g. sessions): signature, claims, and revocation state in the pool. */
export async function verifyNodeCredential(env: Env, secret: string, token: string | undefined): Promise<NodeClaims> {
  const claims = await decodeNodeCredential(secret, token);
  const pool = objectNamed(env, "NODE_POOLS", claims.pool);
  const status = await pool.credentialStatus(claims.sub, claims.jti);
  if (!status.valid) throw new ApiError("credential-revoked", status.reason ?? "The node credential is not valid.");
  return claims;
}
