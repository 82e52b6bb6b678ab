import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../functions/app.ts";

async function fetchWith(overrides: Record<string, string | undefined>, path = "/health") {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`https://lucid.test${path}`), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("configuration", () => {
  it("a missing secret is a clear config-invalid problem naming it, on every route", async () => {
    for (const path of ["/health", "/api/v1/system/services"]) {
      const res = await fetchWith({ JWT_SECRET_KEY: undefined }, path);
      expect(res.status).toBe(500);
      expect(res.headers.get("Content-Type")).toBe("application/problem+json");
      const problem = await res.json<{ type: string; errors: { variable: string; message: string }[] }>();
      expect(problem.type).toBe("/problems/config-invalid");
      expect(problem.errors).toEqual([{ variable: "JWT_SECRET_KEY", message: "is missing" }]);
    }
  });

  it("a malformed value names the variable and never echoes secrets", async () => {
    const res = await fetchWith({ RATE_LIMIT_PER_MINUTE: "lots", JWT_SECRET_KEY: "short" });
    const body = await res.text();
    const problem = JSON.parse(body) as { errors: { variable: string }[] };
    expect(problem.errors.map((e) => e.variable).sort()).toEqual(["JWT_SECRET_KEY", "RATE_LIMIT_PER_MINUTE"]);
    expect(body).not.toContain('short"');
    expect(body).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
  });
});
