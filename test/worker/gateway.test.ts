import { describe, expect, it } from "vitest";
import { api, problemOf, tokenFor } from "./helpers.ts";

/** Operations endpoints need ADMIN: the headers of a fresh ADMIN's token. */
const asAdmin = async () => ({ Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "ADMIN")}` });

describe("gateway errors are problem+json", () => {
  it("404 for an unknown route", async () => {
    const res = await api("/api/v1/nope");
    expect(res.status).toBe(404);
    const problem = await problemOf(res);
    expect(problem).toMatchObject({ type: "/problems/not-found", status: 404, instance: "/api/v1/nope" });
    expect(problem.requestId).toBe(res.headers.get("X-Request-Id"));
  });

  it("404 unknown-api-version for /api/v2", async () => {
    const res = await api("/api/v2/system/services");
    const problem = await problemOf(res);
    expect(problem).toMatchObject({ type: "/problems/unknown-api-version", status: 404, supported: ["v1"] });
  });

  it("405 with Allow for a known path and wrong method", async () => {
    const res = await api("/api/v1/system/services", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toBe("GET, HEAD, OPTIONS");
    const problem = await problemOf(res);
    expect(problem.type).toBe("/problems/method-not-allowed");
  });

  it("400 for malformed JSON, changing nothing", async () => {
    const res = await api("/api/v1/system/services/check", {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).type).toBe("/problems/malformed-json");
  });

  it("415 for a wrong content type", async () => {
    const res = await api("/api/v1/system/services/check", {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "text/plain" },
      body: "services=system",
    });
    expect(res.status).toBe(415);
    expect((await problemOf(res)).type).toBe("/problems/unsupported-media-type");
  });

  it("413 for an oversized body", async () => {
    const res = await api("/api/v1/system/services/check", {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "application/json" },
      body: JSON.stringify({ services: ["system"], pad: "x".repeat(2 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(await problemOf(res)).toMatchObject({ type: "/problems/payload-too-large", limit: 1048576 });
  });

  it("400 validation-failed lists each field", async () => {
    const res = await api("/api/v1/system/services/check", {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "application/json" },
      body: JSON.stringify({ services: ["nonexistent"] }),
    });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.type).toBe("/problems/validation-failed");
    expect(problem.errors).toEqual([expect.objectContaining({ location: "body", path: "services.0" })]);
  });

  it("refused requests changed nothing: no check was recorded", async () => {
    // Every POST above was refused before running; a check would have written to SystemDO.
    expect((await api("/api/v1/system/services/system", { headers: await asAdmin() })).status).toBe(404);
  });
});

describe("rate limiting", () => {
  it("serves one client's parallel requests that all wait for a lease and then call Durable Objects", async () => {
    // A lease refill shared between requests ran the waiting requests' continuations in the
    // refilling request's I/O context, where their own Durable Object calls could fail or hang.
    // The first request (likely the one refilling) answers at once; the others still have I/O to do.
    for (let round = 0; round < 5; round++) {
      const headers = { Authorization: `Bearer ${await tokenFor(`admin-${crypto.randomUUID()}`, "ADMIN")}` };
      const ip = `203.0.113.${91 + round}`;
      const batch = await Promise.all([
        api("/api/v1/nope", { headers }),
        api("/api/v1/nope", { ip }),
        ...Array.from({ length: 6 }, () => api("/api/v1/admin/overview", { headers })),
        ...Array.from({ length: 4 }, () => api("/api/v1/system/services/system", { headers })),
      ]);
      const statuses = await Promise.all(batch.map(async (res) => (await res.body?.cancel(), res.status)));
      expect(statuses.slice(0, 8)).toEqual([404, 404, 200, 200, 200, 200, 200, 200]);
      for (const status of statuses.slice(8)) expect([200, 404]).toContain(status); // the check may not have run yet
    }
  });

  it("refuses the 1001st request in a minute with 429 and Retry-After", { timeout: 180_000 }, async () => {
    const ip = "203.0.113.77";
    // The window is one minute from the first request. 1000 requests for the OpenAPI document (tens of
    // ms each) outlast it on a busy 2-core machine, and the quota refills mid-test: the requests go to
    // an unknown path instead (rate limiting runs before routing), twenty at a time, as a client
    // sending in parallel would (which also covers leases refilled concurrently in one isolate).
    const remaining: number[] = [];
    for (let sent = 0; sent < 1000; sent += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => api("/api/v1/rate-limit-probe", { ip })));
      for (const [i, res] of batch.entries()) {
        expect(res.status, `request ${sent + i + 1}`).toBe(404);
        remaining.push(Number(res.headers.get("RateLimit-Remaining")));
        await res.body?.cancel();
      }
    }
    expect(Math.min(...remaining)).toBe(0);
    const refused = await api("/api/v1/openapi.json", { ip });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(refused.headers.get("RateLimit-Limit")).toBe("1000");
    expect((await problemOf(refused)).type).toBe("/problems/rate-limited");
    // Another client is unaffected.
    expect((await api("/api/v1/openapi.json", { ip: "203.0.113.78" })).status).toBe(200);
  });
});
