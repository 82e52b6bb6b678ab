import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { api, problemOf, tokenFor } from "./helpers.ts";
import { asOperator, PI5, TestNode } from "./node-agent.ts";

describe("POST /api/v1/nodes (registration)", () => {
  it("registers a node signed by its key and returns a node credential", async () => {
    const node = new TestNode("op-reg-1");
    const res = await node.register();
    expect(res.status).toBe(201);
    const body = await res.json<{
      node: { id: string; state: string; pool: string; operatorId: string };
      credential: { token: string; header: string };
    }>();
    expect(body.node).toMatchObject({ state: "registering", pool: "pool-1", operatorId: "op-reg-1" });
    expect(body.node.id).toMatch(/^node_[0-9a-f-]{36}$/);
    expect(body.credential.header).toBe("X-Node-Credential");
    const [, payload] = body.credential.token.split(".");
    expect(JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/")))).toMatchObject({
      typ: "node",
      sub: body.node.id,
      pool: "pool-1",
    });

    const detail = await asOperator("op-reg-1", `/api/v1/nodes/${body.node.id}`);
    expect(detail.status).toBe(200);
    const view = await detail.json<{ events: { to: string; reason: string }[] }>();
    expect(view.events).toEqual([expect.objectContaining({ to: "registering", reason: "registered" })]);
  });

  it("is for NODE_OPERATOR and above", async () => {
    const node = new TestNode("plain-user");
    const res = await api("/api/v1/nodes", {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokenFor("plain-user", "USER")}`, "Content-Type": "application/json" },
      body: JSON.stringify(node.registrationBody()),
    });
    expect(res.status).toBe(403);
    expect((await api("/api/v1/nodes", { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("names every resource below the minimum", async () => {
    const node = new TestNode("op-reg-2");
    const res = await node.register({ resources: { ...PI5, memoryMb: 2048, diskGb: 32 } });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.type).toBe("/problems/insufficient-resources");
    expect(problem.shortfalls).toEqual([
      { resource: "memoryMb", declared: 2048, minimum: 4096 },
      { resource: "diskGb", declared: 32, minimum: 64 },
    ]);
    expect(problem.detail).toContain("memoryMb");
  });

  it("refuses a TRON address with a bad checksum", async () => {
    const node = new TestNode("op-reg-3");
    const res = await node.register({ payoutAddress: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD" });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.type).toBe("/problems/validation-failed");
    expect(JSON.stringify(problem.errors)).toContain("payoutAddress");
  });

  it("refuses a request not signed by the registered key, a stale timestamp, and another operator's signature", async () => {
    const node = new TestNode("op-reg-4");
    const forged = await node.register({ signWith: ed25519.utils.randomSecretKey() });
    expect(forged.status).toBe(401);
    expect((await problemOf(forged)).type).toBe("/problems/invalid-signature");

    const stale = await node.register({ timestamp: Date.now() - 10 * 60_000 });
    expect(stale.status).toBe(400);
    expect((await problemOf(stale)).type).toBe("/problems/clock-skew");

    // The signature binds the operator: op-reg-5 cannot replay op-reg-4's signed body.
    const body = node.registrationBody();
    const replayed = await asOperator("op-reg-5", "/api/v1/nodes", { method: "POST", body: JSON.stringify(body) });
    expect(replayed.status).toBe(401);

    const list = await asOperator("op-reg-4", "/api/v1/nodes");
    expect((await list.json<{ nodes: unknown[] }>()).nodes).toEqual([]);
  });

  it("refuses the same node key twice", async () => {
    const node = new TestNode("op-reg-6");
    expect((await node.register()).status).toBe(201);
    const again = await node.register();
    expect(again.status).toBe(409);
  });

  it("answers 409 for a full pool and opens a new pool when none is named", async () => {
    const operator = "op-fill";
    // Fill pool-1 up to NODE_POOL_MAX_NODES (100); earlier tests in this file already placed some nodes there.
    const pools = await listPoolCounts();
    const missing = 100 - (pools.get("pool-1") ?? 0);
    for (let i = 0; i < missing; i += 10) {
      const batch = Array.from({ length: Math.min(10, missing - i) }, () => new TestNode(operator));
      const statuses = await Promise.all(batch.map(async (n) => (await n.register()).status));
      expect(statuses.every((s) => s === 201)).toBe(true);
    }
    expect((await listPoolCounts()).get("pool-1")).toBe(100);

    const extra = new TestNode(operator);
    const full = await extra.register({ pool: "pool-1" });
    expect(full.status).toBe(409);
    const problem = await problemOf(full);
    expect(problem).toMatchObject({ type: "/problems/pool-full", pool: "pool-1", maxNodes: 100 });

    const placed = await extra.register();
    expect(placed.status).toBe(201);
    expect(extra.pool).toBe("pool-2");
  });
});

describe("OpenAPI", () => {
  it("documents the nodes routes", async () => {
    const res = await api("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{ paths: Record<string, Record<string, unknown>> }>();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/nodes",
        "/api/v1/nodes/{id}/heartbeats",
        "/api/v1/nodes/leaderboard",
        "/api/v1/nodes/{id}/suspension",
      ]),
    );
  });
});

async function listPoolCounts(): Promise<Map<string, number>> {
  const res = await asOperator("admin-1", "/api/v1/nodes", {}, "ADMIN");
  const { nodes } = await res.json<{ nodes: { pool: string }[] }>();
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.pool, (counts.get(n.pool) ?? 0) + 1);
  return counts;
}
