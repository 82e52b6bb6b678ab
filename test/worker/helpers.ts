import { exports } from "cloudflare:workers";
import { sign } from "hono/jwt";

/** Sends a request through the real Worker entry (middleware, routes, Durable Objects). */
export function api(path: string, init?: RequestInit & { ip?: string }): Promise<Response> {
  const headers = new Headers(init?.headers);
  headers.set("CF-Connecting-IP", init?.ip ?? `198.51.100.${Math.floor(Math.random() * 250) + 1}`);
  return exports.default.fetch(new Request(`https://lucid.test${path}`, { ...init, headers }));
}

export async function problemOf(response: Response) {
  expectProblem(response);
  return (await response.json()) as { type: string; title: string; status: number; detail?: string; [k: string]: unknown };
}

function expectProblem(response: Response) {
  const type = response.headers.get("Content-Type");
  if (type !== "application/problem+json") throw new Error(`expected problem+json, got ${type} (${response.status})`);
}

export const TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef0123456789abcdef";

/**
 * An access token as functions/auth issues them, signed with the suite's test secret. Without
 * `sessionId` (the `sid` claim) it is not backed by a login session, which privileged writes
 * refuse (functions/middleware/standing.ts); reads and non-privileged routes accept it.
 */
export async function tokenFor(userId: string, role: "USER" | "NODE_OPERATOR" | "ADMIN" | "SUPER_ADMIN" = "USER", ttlSeconds = 900, sessionId?: string) {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: userId, role, iat: now, exp: now + ttlSeconds, ...(sessionId ? { sid: sessionId } : {}) }, TEST_JWT_SECRET, "HS256");
}

