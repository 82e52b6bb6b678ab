import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { ledgerPlain } from "./ledger.ts";

const KEY = /^[A-Za-z0-9_\-:.]{1,128}$/;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Every POST needs an Idempotency-Key. The first request with a key runs and its answer is
 * stored in LedgerDO; a retry with the same key and body gets that answer again (with
 * `Idempotent-Replayed: true`), a different body gets 422, and a retry while the first is still
 * running gets 409. A 5xx answer releases the key so the client can try again. Paths in
 * `unstored` still need the header but their answers are never stored or replayed.
 */
export function requireIdempotencyKey(options: { unstored?: readonly string[] } = {}): MiddlewareHandler<AppEnv> {
  const unstored = options.unstored ?? [];
  return async function idempotencyMiddleware(c, next) {
    if (c.req.method !== "POST") return next();
    const key = c.req.header("Idempotency-Key");
    if (key === undefined || !KEY.test(key)) {
      throw new ApiError("idempotency-key-required", "Send an Idempotency-Key header (1–128 characters of A–Z a–z 0–9 _ - : .).");
    }
    // Answers that must not be kept or replayed (a key export): each request runs, with its own checks.
    if (unstored.some((suffix) => c.req.path.endsWith(suffix))) return next();
    const principal = principalOf(c);
    const scope = `${principal.userId}:${c.req.path}:${key}`;
    const hash = await sha256Hex(await c.req.raw.clone().text());
    const claim = await ledgerPlain(c, "idempotencyBegin", (stub) => stub.idempotencyBegin(scope, hash));
    if (claim.state === "mismatch")
      throw new ApiError("idempotency-key-reused", "This Idempotency-Key was used with a different request body.");
    if (claim.state === "in-progress") throw new ApiError("request-in-progress", "A request with this Idempotency-Key is still running.");
    if (claim.state === "replay") {
      const status = claim.status ?? 500;
      return new Response(claim.body ?? "", {
        status,
        headers: {
          "Content-Type": status >= 400 ? "application/problem+json" : "application/json",
          "Idempotent-Replayed": "true",
        },
      });
    }
    try {
      await next();
    } catch (error) {
      await ledgerPlain(c, "idempotencyFinish", (stub) => stub.idempotencyFinish(scope, 500, ""));
      throw error;
    }
    const status = c.res.status;
    const body = await c.res.clone().text();
    await ledgerPlain(c, "idempotencyFinish", (stub) => stub.idempotencyFinish(scope, status, body));
  };
}
