import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, problemOf, tokenFor } from "./helpers.ts";

/** Operations endpoints need ADMIN: the headers of a fresh ADMIN's token. */
const asAdmin = async () => ({ Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "ADMIN")}` });

describe("GET /api/v1/system/services", () => {
  it("checks every registered function and maps the seed's 27 services onto them", async () => {
    const res = await api("/api/v1/system/services", { headers: await asAdmin() });
    expect(res.status).toBe(200);
    const report = await res.json<{
      status: string;
      functions: { name: string; status: string; latencyMs: number }[];
      seedServices: { id: number; status: string; function: string }[];
    }>();
    expect(report.functions.map((f) => f.name)).toEqual([
      "gateway",
      "system",
      "rate-limiter",
      "chain",
      "auth",
      "payments",
      "chunk-store",
      "nodes",
      "sessions",
      "admin",
      "dashboard",
      "rdp",
      "recorder",
      "chunk-processor",
      "xrdp",
    ]);
    // The agent-side services are degraded with no node online (test/worker/health-truth.test.ts).
    const onNodes = ["recorder", "chunk-processor", "xrdp"];
    for (const f of report.functions) {
      expect(f.status, f.name).toBe(onNodes.includes(f.name) ? "degraded" : "up");
      expect(f.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(report.status).toBe("degraded");
    expect(report.seedServices).toHaveLength(27);
    expect(report.seedServices.find((s) => s.id === 5)).toMatchObject({ function: "gateway", status: "up" });
    expect(report.seedServices.find((s) => s.id === 23)).toMatchObject({ name: "Payout Router", function: "payments", status: "up" });
    // Functions that are not built are reported as such, never as healthy.
    const unbuilt = report.seedServices.filter((s) => s.status === "not_built").map((s) => s.function);
    expect(unbuilt).not.toContain("gateway");
    expect([...new Set(unbuilt)]).toEqual([]);
    expect(report.seedServices.find((s) => s.id === 21)).toMatchObject({ function: "admin", status: "up" });
    for (const id of [16, 18, 19]) expect(report.seedServices.find((s) => s.id === id)).toMatchObject({ function: "rdp", status: "up" });
    for (const s of report.seedServices) {
      const registered = report.functions.some((f) => f.name === s.function);
      expect(s.status === "not_built").toBe(!registered);
    }
  });

  it("records the result so GET /services/:name reads it from SystemDO", async () => {
    await api("/api/v1/system/services", { headers: await asAdmin() });
    const res = await api("/api/v1/system/services/rate-limiter", { headers: await asAdmin() });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: "rate-limiter", status: "up", consecutiveFailures: 0 });
  });

  it("400 for an invalid name, 404 for an unknown one", async () => {
    const bad = await api("/api/v1/system/services/Bad_Name!", { headers: await asAdmin() });
    expect(bad.status).toBe(400);
    const problem = await problemOf(bad);
    expect(problem.type).toBe("/problems/validation-failed");
    expect(problem.errors).toEqual([expect.objectContaining({ location: "path", path: "name" })]);
    const unknown = await api("/api/v1/system/services/warp-drive", { headers: await asAdmin() });
    expect(unknown.status).toBe(404);
    expect((await problemOf(unknown)).detail).toContain("warp-drive");
  });

  it("POST /services/check runs only the named checks", async () => {
    const res = await api("/api/v1/system/services/check", {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "application/json" },
      body: JSON.stringify({ services: ["system"] }),
    });
    expect(res.status).toBe(200);
    const report = await res.json<{ functions: { name: string }[] }>();
    expect(report.functions.map((f) => f.name)).toEqual(["system"]);
  });

  it("refuses unknown body fields (strict schemas)", async () => {
    const res = await api("/api/v1/system/services/check", {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "application/json" },
      body: JSON.stringify({ services: ["system"], role: "SUPER_ADMIN" }),
    });
    expect(res.status).toBe(400);
  });
});

describe("SystemDO", () => {
  it("keeps failure history across checks", async () => {
    const stub = env.SYSTEM.get(env.SYSTEM.idFromName("history-test"));
    await stub.recordChecks([{ name: "x", status: "up", latencyMs: 1, checkedAt: 1000 }]);
    await stub.recordChecks([{ name: "x", status: "down", latencyMs: 2, detail: "boom", checkedAt: 2000 }]);
    const [record] = await stub.recordChecks([{ name: "x", status: "down", latencyMs: 2, checkedAt: 3000 }]);
    expect(record).toMatchObject({ status: "down", lastUpAt: 1000, consecutiveFailures: 2 });
  });

  it("persists to SQLite, not only memory", async () => {
    const stub = env.SYSTEM.get(env.SYSTEM.idFromName("persist-test"));
    await stub.addMetrics([{ name: "lucid_test_total", labels: 'a="1"', value: 2 }]);
    await stub.addMetrics([{ name: "lucid_test_total", labels: 'a="1"', value: 3 }]);
    const rows = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec("SELECT value FROM metric_series WHERE name = 'lucid_test_total'").toArray(),
    );
    expect(rows).toEqual([{ value: 5 }]);
  });
});

describe("RateLimiterDO", () => {
  it("grants leases up to the limit, never beyond, and the alarm clears expired windows", async () => {
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName("do-test"));
    const policy = { key: "k", limit: 10, windowMs: 60_000 };
    const first = await stub.acquire({ ...policy, want: 7 });
    const second = await stub.acquire({ ...policy, want: 7 });
    const third = await stub.acquire({ ...policy, want: 1 });
    expect([first.granted, second.granted, third.granted]).toEqual([7, 3, 0]);
    expect(third.remaining).toBe(0);
    // Expire the window, then run the alarm: the row is gone and the quota is whole again.
    await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec("UPDATE rate_windows SET window_start = window_start - 120000"),
    );
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const rows = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT * FROM rate_windows").toArray());
    expect(rows).toEqual([]);
    expect((await stub.acquire({ ...policy, want: 10 })).granted).toBe(10);
  });
});
