import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { stallChain } from "./chain-helpers.ts";
import { api, tokenFor } from "./helpers.ts";
import { QUIET, TestNode } from "./node-agent.ts";

/** Health that tells the truth: every check looks at what its function depends on. */
const asAdmin = async () => ({ Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "ADMIN")}` });
const ledger = () => env.LEDGER.get(env.LEDGER.idFromName("ledger"));
const chain = () => env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
/** Nothing listens on port 9 (discard) here: a TRON node that cannot be reached. */
const UNREACHABLE = "http://127.0.0.1:9";

type Report = {
  status: string;
  functions: { name: string; status: string; detail: string | null }[];
  seedServices: { id: number; name: string; function: string; status: string }[];
};

async function check(services?: string[]): Promise<Report> {
  const res = services
    ? await api("/api/v1/system/services/check", {
        method: "POST",
        headers: { ...(await asAdmin()), "Content-Type": "application/json" },
        body: JSON.stringify({ services }),
      })
    : await api("/api/v1/system/services", { headers: await asAdmin() });
  expect(res.status).toBe(200);
  return res.json<Report>();
}
const fn = (report: Report, name: string) => report.functions.find((f) => f.name === name)!;

describe("TRON-backed services", () => {
  it("are down within one check when the TRON node cannot be reached, and up again when it can", async () => {
    expect(fn(await check(["payments"]), "payments")).toMatchObject({ status: "up", detail: expect.stringContaining("breaker closed") });
    await ledger().injectTronEndpoint(UNREACHABLE);
    try {
      const report = await check();
      expect(fn(report, "payments")).toMatchObject({ status: "down", detail: expect.stringContaining("TRON node unreachable") });
      for (const id of [22, 23, 24, 25])
        expect(report.seedServices.find((s) => s.id === id)).toMatchObject({ function: "payments", status: "down" });
      expect(report.status).toBe("down");
      // Further failed probes open the breaker; the check then says so without calling TRON at all.
      for (let i = 0; i < 5; i++) await check(["payments"]);
      expect(fn(await check(["payments"]), "payments")).toMatchObject({
        status: "down",
        detail: expect.stringContaining("circuit breaker open"),
      });
    } finally {
      await ledger().injectTronEndpoint(null);
    }
    expect(fn(await check(["payments"]), "payments").status).toBe("up");
  });
});

describe("chain", () => {
  it("is up while idle, down when work has waited past chainStallSlots, up once a block is made", async () => {
    expect(fn(await check(["chain"]), "chain").status).toBe("up");
    // The producer stops (its alarm is gone) and the anchor has waited ten slots.
    await stallChain("health-stall", 10);
    expect(fn(await check(["chain"]), "chain")).toMatchObject({ status: "down", detail: expect.stringContaining("stalled") });
    // The producer runs again: its alarm makes the owed block.
    await runInDurableObject(chain(), (_instance, state) => state.storage.setAlarm(Date.now()));
    await vi.waitFor(async () => expect((await chain().stats()).mempool).toBe(0), { timeout: 20_000, interval: 100 });
    expect(fn(await check(["chain"]), "chain").status).toBe("up");
  });
});

describe("recorder, chunk processor, XRDP", () => {
  const services = ["recorder", "chunk-processor", "xrdp"];

  it("are derived from the online nodes' last heartbeats, not assumed", async () => {
    // No node online: nothing can record.
    let report = await check(services);
    for (const name of services) expect(fn(report, name)).toMatchObject({ status: "degraded", detail: "no node is online" });

    const a = new TestNode(crypto.randomUUID());
    const b = new TestNode(crypto.randomUUID());
    expect((await a.register()).status).toBe(201);
    expect((await b.register()).status).toBe(201);
    const healthy = { recorder: true, chunkProcessor: true, xrdp: true };
    expect((await a.beat({ report: { ...QUIET, services: healthy } })).status).toBe(200);
    expect((await b.beat({ report: { ...QUIET, services: { ...healthy, xrdp: false } } })).status).toBe(200);
    report = await check();
    expect(fn(report, "recorder")).toMatchObject({ status: "up", detail: "2 of 2 online node(s) report it healthy" });
    expect(fn(report, "xrdp")).toMatchObject({ status: "degraded", detail: "1 of 2 online node(s) report it healthy" });
    expect(report.seedServices.find((s) => s.id === 17)).toMatchObject({ name: "RDP XRDP", function: "xrdp", status: "degraded" });
    expect(report.seedServices.find((s) => s.id === 12)).toMatchObject({ function: "recorder", status: "up" });

    // A node that does not report services is not counted as healthy.
    expect((await a.beat({ report: QUIET })).status).toBe(200);
    expect(fn(await check(["recorder"]), "recorder")).toMatchObject({
      status: "degraded",
      detail: "1 of 2 online node(s) report it healthy (1 do not report services)",
    });
    expect((await b.beat({ report: { ...QUIET, services: { ...healthy, recorder: false } } })).status).toBe(200);
    expect(fn(await check(["recorder"]), "recorder").status).toBe("down");
  });
});

describe("GET /health", () => {
  it("stays bare liveness while TRON is unreachable", async () => {
    await ledger().injectTronEndpoint(UNREACHABLE);
    try {
      const res = await api("/health");
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "up" });
    } finally {
      await ledger().injectTronEndpoint(null);
    }
  });
});
