import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError } from "../../shared/errors.ts";
import type { AppEnv } from "../types.ts";
import { keyringFor } from "./jwt-keyring.ts";

/**
 * Node credentials: HS256 JWTs signed with JWT_SECRET_KEY carrying `{ typ: "node", sub: <nodeId>, exp }`.
 * functions/nodes issues them at registration; the sessions function accepts them for chunk
 * uploads and the data key. `typ` keeps them from ever passing as a user's access token.
 */
export const nodeClaimsSchema = z.object({
  typ: z.literal("node"),
  sub: z.string().min(1).max(128),
  exp: z.number().int(),
  iat: z.number().int().optional(),
});

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
 * Verifies a node credential when the bearer token is one and sets `node`; leaves `node`
 * undefined for any other request. A node credential that fails verification is a 401.
 */
export function nodeCredential(): MiddlewareHandler<AppEnv> {
  return async function nodeCredentialMiddleware(c, next) {
    c.set("node", undefined);
    const match = BEARER.exec(c.req.header("Authorization") ?? "");
    if (match && isNodeCredential(match[1]!)) {
      let payload: unknown;
      try {
        // The same keyring as access tokens: JWT_SECRET_KEY, and JWT_SECRET_KEY_PREVIOUS during a rotation.
        payload = await (await keyringFor(c.get("config"))).verify(match[1]!);
      } catch {
        throw invalidNode("The node credential is invalid or expired.");
      }
      const claims = nodeClaimsSchema.safeParse(payload);
      if (!claims.success) throw invalidNode("The node credential lacks the claims Lucid requires.");
      c.set("node", { nodeId: claims.data.sub });
    }
    await next();
  };
}

function invalidNode(detail: string): ApiError {
  return new ApiError("unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="lucid", error="invalid_token"' });
}
