#!/usr/bin/env node
// Per-request cost of access-token verification as functions/middleware/authenticate.ts does it
// (header parse, alg/kid pin, WebCrypto HMAC verify, payload parse, expiry, zod claims), against
// a baseline of one bare WebCrypto HMAC-SHA256 verify of the same bytes with the same key.
// Run: `npx node bench/jwt-verify.mjs`.
import { z } from "zod";
import { JwtKeyring } from "../shared/jwt.ts";

const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);
const SECRET = "bench-secret-0123456789abcdef0123456789abcdef";

// The middleware's schema (functions/middleware/authenticate.ts), repeated here because that
// module imports Worker-only code paths.
const accessClaimsSchema = z.object({
  sub: z.string().min(1).max(128),
  role: z.enum(["USER", "NODE_OPERATOR", "ADMIN", "SUPER_ADMIN"]),
  exp: z.number().int(),
  iat: z.number().int().optional(),
  typ: z.literal("access").optional(),
  sid: z.string().max(64).optional(),
});

async function measure(label, fn) {
  for (let i = 0; i < 500; i++) await fn();
  let ops = 0;
  const started = performance.now();
  while (performance.now() - started < DURATION_MS) {
    await fn();
    ops++;
  }
  const micros = ((performance.now() - started) * 1000) / ops;
  console.log(`# ${label}: ${ops} ops, ${micros.toFixed(2)} µs each`);
  return micros;
}

const keyring = await JwtKeyring.create(SECRET);
const now = Math.floor(Date.now() / 1000);
const token = await keyring.sign({
  sub: "2b1f0c5e-0000-4000-8000-000000000000",
  role: "ADMIN",
  sid: "3c2a",
  typ: "access",
  iat: now,
  exp: now + 900,
});
const [header, payload, signature] = token.split(".");
const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
const mac = Buffer.from(signature, "base64url");
const signingInput = new TextEncoder().encode(`${header}.${payload}`);

const baseline = await measure("baseline: bare HMAC-SHA256 verify (WebCrypto)", async () => {
  if (!(await crypto.subtle.verify("HMAC", key, mac, signingInput))) throw new Error("bad mac");
});
const ours = await measure("ours: JwtKeyring.verify + claims schema", async () => {
  accessClaimsSchema.parse(await keyring.verify(token));
});

console.log(
  `BENCH jwt-verify ours=${ours.toFixed(2)} baseline=${baseline.toFixed(2)} ratio=${(ours / baseline).toFixed(3)} unit=us_per_verify`,
);
