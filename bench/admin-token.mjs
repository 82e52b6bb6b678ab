// An ADMIN access token signed with the workerd's own JWT_SECRET_KEY, for benches that call
// ADMIN-only routes (the operations endpoints: /api/v1/system/services and the like).
import { sign } from "hono/jwt";

export async function adminToken(secrets) {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: "bench", role: "ADMIN", iat: now, exp: now + 3600 }, secrets.JWT_SECRET_KEY, "HS256");
}
