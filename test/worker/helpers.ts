import { exports } from "cloudflare:workers";
import { sign } from "hono/jwt";

/**
 * Sends a request through the real Worker entry (middleware, routes, Durable Objects). The test
 * plays workerd's listener: `ip` (random by default) becomes request.cf.clientIp, the peer address
 * the test environment's CLIENT_ADDRESS_SOURCE="socket" reads; headers stay what a client sends.
 */
export function api(path: string, init?: RequestInit & { ip?: string; host?: string }): Promise<Response> {
  return exports.default.fetch(new Request(`https://${init?.host ?? "lucid.test"}${path}`, { ...init, cf: { clientIp: peer(init?.ip) } }));
}

/** A socket peer as workerd writes it (host:port, IPv6 in brackets). */
export function peer(ip = `198.51.100.${Math.floor(Math.random() * 250) + 1}`): string {
  return ip.includes(":") ? `[${ip}]:${40000 + Math.floor(Math.random() * 20000)}` : `${ip}:${40000 + Math.floor(Math.random() * 20000)}`;
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
export async function tokenFor(
  userId: string,
  role: "USER" | "NODE_OPERATOR" | "ADMIN" | "SUPER_ADMIN" = "USER",
  ttlSeconds = 900,
  sessionId?: string,
) {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: userId, role, iat: now, exp: now + ttlSeconds, ...(sessionId ? { sid: sessionId } : {}) }, TEST_JWT_SECRET, "HS256");
}
