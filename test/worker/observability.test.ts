import { describe, expect, it } from "vitest";
import { api, problemOf, tokenFor, TEST_JWT_SECRET } from "./helpers.ts";
import { sign } from "hono/jwt";
import { accessLogSample, SLOW_REQUEST_MS } from "../../functions/middleware/observe.ts";

/** The scrape token vitest.config.ts configures (METRICS_SCRAPE_TOKEN). */
const SCRAPE_TOKEN = "test-only-metrics-scrape-token-0123456789abcdef";
const asAdmin = async () => ({ Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "ADMIN")}` });

describe("GET /api/v1/system/metrics", () => {
  it("exposes requests by route and status, latency histograms, DO calls and rate-limit rejections", async () => {
    expect((await api("/api/v1/system/services", { headers: await asAdmin() })).status).toBe(200);
    await api("/api/v1/nope");
    const res = await api("/api/v1/system/metrics", { headers: { Authorization: `Bearer ${SCRAPE_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toContain("# TYPE lucid_http_requests_total counter");
    expect(text).toMatch(/lucid_http_requests_total\{method="GET",route="\/api\/v1\/system\/services",status="200"\} \d+/);
    expect(text).toMatch(/lucid_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
    expect(text).toContain("# TYPE lucid_http_request_duration_seconds histogram");
    expect(text).toMatch(/lucid_http_request_duration_seconds_bucket\{route="\/api\/v1\/system\/services",le="\+Inf"\} \d+/);
    expect(text).toMatch(/lucid_do_calls_total\{class="SystemDO",method="recordChecks",outcome="ok"\} \d+/);
    // Buckets are cumulative and ordered by le.
    const buckets = [
      ...text.matchAll(/lucid_http_request_duration_seconds_bucket\{route="\/api\/v1\/system\/services",le="([^"]+)"\} (\d+)/g),
    ];
    const counts = buckets.map((m) => Number(m[2]));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(buckets.at(-1)![1]).toBe("+Inf");
  });
});

describe("operations endpoints need ADMIN (metrics: or the scrape token)", () => {
  const check = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ services: ["system"] }) };

  it("anonymous calls to services, services/check and metrics are 401 problems", async () => {
    for (const [path, init] of [
      ["/api/v1/system/services", {}],
      ["/api/v1/system/services/check", check],
      ["/api/v1/system/services/system", {}],
      ["/api/v1/system/metrics", {}],
    ] as const) {
      const res = await api(path, init);
      expect(res.status, path).toBe(401);
      expect((await problemOf(res)).type).toBe("/problems/unauthorized");
    }
  });

  it("a USER is 403; an ADMIN is served; /health stays public", async () => {
    const user = { Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "USER")}` };
    for (const path of ["/api/v1/system/services", "/api/v1/system/metrics"]) expect((await api(path, { headers: user })).status).toBe(403);
    expect((await api("/api/v1/system/metrics", { headers: await asAdmin() })).status).toBe(200);
    expect((await api("/health")).status).toBe(200);
  });

  it("the scrape token opens the metrics and nothing else; a wrong one is refused", async () => {
    const scraper = { Authorization: `Bearer ${SCRAPE_TOKEN}` };
    expect((await api("/api/v1/system/metrics", { headers: scraper })).status).toBe(200);
    expect((await api("/api/v1/system/services", { headers: scraper })).status).toBe(401);
    expect((await api("/api/v1/system/services/check", { ...check, headers: { ...check.headers, ...scraper } })).status).toBe(401);
    for (const wrong of [SCRAPE_TOKEN.slice(0, -1) + "X", SCRAPE_TOKEN.slice(0, -1), `${SCRAPE_TOKEN}0`]) {
      expect((await api("/api/v1/system/metrics", { headers: { Authorization: `Bearer ${wrong}` } })).status).toBe(401);
    }
  });
});

describe("OpenAPI", () => {
  it("serves an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await api("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    }>();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/v1/system/services", "/api/v1/system/services/{name}", "/api/v1/system/metrics"]),
    );
    expect(doc.paths["/api/v1/system/services/check"]).toHaveProperty("post");
    expect(doc.components.schemas).toHaveProperty("Problem");
  });
});

describe("problem type documentation", () => {
  it("serves each problem type at its `type` URI", async () => {
    const res = await api("/problems/rate-limited");
    expect(await res.json()).toMatchObject({ type: "/problems/rate-limited", status: 429 });
    expect((await api("/problems/nope")).status).toBe(404);
  });
});

describe("request ids, CORS and secure headers", () => {
  it("echoes a caller's plain request id and replaces an unsafe one", async () => {
    const kept = await api("/health", { headers: { "X-Request-Id": "gui-1234.abc" } });
    expect(kept.headers.get("X-Request-Id")).toBe("gui-1234.abc");
    const replaced = await api("/health", { headers: { "X-Request-Id": "bad id\twith junk" } });
    expect(replaced.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers CORS preflight with the configured origins (seed default *)", async () => {
    const res = await api("/api/v1/system/services", {
      method: "OPTIONS",
      headers: { Origin: "https://gui.example", "Access-Control-Request-Method": "GET" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("keeps request id and security headers on error responses", async () => {
    const res = await api("/api/v1/nope", { headers: { Origin: "https://gui.example" } });
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });
});

describe("bearer tokens at the gateway", () => {
  it("accepts a valid token and rate-limits by user instead of address", async () => {
    const token = await tokenFor("user-1", "ADMIN");
    const res = await api("/api/v1/system/services/gateway", { headers: { Authorization: `Bearer ${token}` } });
    expect([200, 404]).toContain(res.status);
    expect(res.headers.get("RateLimit-Limit")).toBe("1000");
  });

  it.each([
    ["not a bearer", "Basic dXNlcjpwYXNz"],
    ["garbage", "Bearer abc.def.ghi"],
  ])("401 for %s", async (_name, header) => {
    const res = await api("/api/v1/system/services", { headers: { Authorization: header } });
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toContain("Bearer");
    expect((await problemOf(res)).type).toBe("/problems/unauthorized");
  });

  it("invalid tokens are refused only after they were counted against the caller's quota", async () => {
    const ip = "192.0.2.201";
    const first = await api("/api/v1/system/services", { ip, headers: { Authorization: "Bearer abc.def.ghi" } });
    const second = await api("/api/v1/system/services", { ip, headers: { Authorization: "Bearer abc.def.ghi" } });
    expect([first.status, second.status]).toEqual([401, 401]);
    expect(Number(second.headers.get("RateLimit-Remaining"))).toBe(Number(first.headers.get("RateLimit-Remaining")) - 1);
  });

  it("401 for an expired token, a wrong key and alg none", async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ sub: "u", role: "USER", exp: now - 10 }, TEST_JWT_SECRET, "HS256");
    const wrongKey = await sign({ sub: "u", role: "USER", exp: now + 60 }, "another-secret-another-secret-1234", "HS256");
    const none = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${btoa(
      JSON.stringify({ sub: "u", role: "SUPER_ADMIN", exp: now + 60 }),
    ).replace(/=+$/, "")}.`;
    for (const token of [expired, wrongKey, none]) {
      const res = await api("/api/v1/system/services", { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
    }
  });
});

describe("unknown methods", () => {
  it("HEAD works wherever GET does", async () => {
    const res = await api("/health", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });
});

describe("access log sampling (functions/middleware/observe.ts)", () => {
  it("always logs errors, refusals, writes, slow and debug-level requests", () => {
    expect(accessLogSample("GET", 500, 3, 100, "info")).toBe(1);
    expect(accessLogSample("GET", 404, 3, 100, "info")).toBe(1);
    expect(accessLogSample("GET", 429, 3, 100, "info")).toBe(1);
    expect(accessLogSample("POST", 201, 3, 100, "info")).toBe(1);
    expect(accessLogSample("DELETE", 204, 3, 100, "info")).toBe(1);
    expect(accessLogSample("GET", 200, SLOW_REQUEST_MS, 100, "info")).toBe(1);
    expect(accessLogSample("GET", 200, 3, 100, "debug")).toBe(1);
    expect(accessLogSample("GET", 200, 3, 1, "info")).toBe(1);
  });

  it("logs one in N fast successful reads, each line standing for N", () => {
    const decisions = Array.from({ length: 21 }, () => accessLogSample("GET", 200, 3, 7, "info"));
    const logged = decisions.filter((d) => d !== undefined);
    expect(logged).toEqual([7, 7, 7]);
  });
});
