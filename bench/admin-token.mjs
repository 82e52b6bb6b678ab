// An ADMIN access token signed with the workerd's own JWT_SECRET_KEY, for benches that call
// ADMIN-only routes they only read (the operations endpoints: /api/v1/system/services and the like).
// Privileged writes check the caller's current session, so they need a real login (bench/anchors.mjs).
import { sign } from "hono/jwt";

export async function adminToken(secrets) {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: "bench", role: "ADMIN", iat: now, exp: now + 3600 }, secrets.JWT_SECRET_KEY, "HS256");
}
