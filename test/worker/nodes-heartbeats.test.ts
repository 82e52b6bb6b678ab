import { ed25519 } from "@noble/curves/ed25519.js";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../../shared/errors.ts";
import { verifyNodeCredential } from "../../functions/nodes/credential.ts";
import { api, problemOf, TEST_JWT_SECRET } from "./helpers.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { asAdmin, asOperator, QUIET, TestNode } from "./node-agent.ts";

function poolStub(name: string) {
  return env.NODE_POOLS.get(env.NODE_POOLS.idFromName(name));
}

async function nodeState(node: TestNode) {
  const view = await poolStub(node.pool).getNode(node.id);
  return { state: view!.state, lastSeq: view!.lastSeq };
}

async function storedBeats(node: TestNode): Promise<number> {
  return runInDurableObject(poolStub(node.pool), (_instance, state) =>
    Number(state.storage.sql.exec("SELECT count(*) AS n FROM heartbeats WHERE node_id = ?", node.id).one().n),
  );
}

let node: TestNode;
beforeEach(async () => {
  node = new TestNode(`op-hb-${crypto.randomUUID()}`);
  expect((await node.register()).status).toBe(201);
});

describe("POST /api/v1/nodes/:id/heartbeats", () => {
  it("accepts signed beats in sequence and derives the state from the report", async () => {
    const first = await node.beat();
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({
      accepted: true,
      state: "active",
      seq: 1,
      nextHeartbeatSeconds: 60,
      challenge: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    const working = await node.beat({ report: { ...QUIET, sessionsHosted: 2, bytesRecorded: 5_000_000 } });
    expect((await working.json<{ state: string }>()).state).toBe("working");
    const idle = await node.beat({ report: { ...QUIET, accepting: false } });
    expect((await idle.json<{ state: string }>()).state).toBe("idle");
    // Sequence numbers may skip (a lost beat), they only have to increase.
    expect((await node.beat({ seq: node.seq + 5 })).status).toBe(200);
    expect(await storedBeats(node)).toBe(4);
  });

  it("refuses a forged beat (signed by another key) and stores nothing", async () => {
    const res = await node.beat({ signWith: ed25519.utils.randomSecretKey() });
    expect(res.status).toBe(401);
    expect((await problemOf(res)).type).toBe("/problems/invalid-signature");
    expect(await nodeState(node)).toEqual({ state: "registering", lastSeq: 0 });
    expect(await storedBeats(node)).toBe(0);
  });

  it("refuses a beat whose body was altered after signing", async () => {
    const body = node.heartbeatBody();
    const tampered = { ...body, report: { ...body.report, sessionsHosted: 50 } };
    const res = await fetchBeat(node, tampered);
    expect(res.status).toBe(401);
    expect(await storedBeats(node)).toBe(0);
  });

  it("refuses a replayed beat and an out-of-order one, storing nothing", async () => {
    const body = node.heartbeatBody({ seq: 5 });
    const send = () => fetchBeat(node, body);
    expect((await send()).status).toBe(200);
    const replay = await send();
    expect(replay.status).toBe(409);
    expect(await problemOf(replay)).toMatchObject({ type: "/problems/heartbeat-replayed", lastSeq: 5 });

    const older = await node.beat({ seq: 3 });
    expect(older.status).toBe(409);
    expect(await problemOf(older)).toMatchObject({ type: "/problems/heartbeat-out-of-order", lastSeq: 5 });
    expect(await storedBeats(node)).toBe(1);
    expect((await nodeState(node)).lastSeq).toBe(5);
  });

  it("accepts exactly one of two identical beats sent at once", async () => {
    const body = node.heartbeatBody();
    const statuses = (await Promise.all([fetchBeat(node, body), fetchBeat(node, body)])).map((r) => r.status);
    expect(statuses.sort()).toEqual([200, 409]);
    expect(await storedBeats(node)).toBe(1);
  });

  it("refuses clock skew beyond the bound", async () => {
    const ahead = await node.beat({ sentAt: Date.now() + 5 * 60_000 });
    expect(ahead.status).toBe(400);
    expect(await problemOf(ahead)).toMatchObject({ type: "/problems/clock-skew", maxSkewSeconds: 30 });
    expect((await node.beat({ sentAt: Date.now() - 5 * 60_000 })).status).toBe(400);
    expect(await storedBeats(node)).toBe(0);
  });

  it("needs the node's own, unrevoked credential", async () => {
    expect((await node.beat({ credential: null })).status).toBe(401);
    expect((await node.beat({ credential: "not.a.jwt" })).status).toBe(401);

    const other = new TestNode(node.operatorId);
    expect((await other.register()).status).toBe(201);
    expect((await node.beat({ credential: other.credential })).status).toBe(403);

    // What other functions (sessions) call to check a node credential.
    expect(await verifyNodeCredential(env, TEST_JWT_SECRET, node.credential)).toMatchObject({ typ: "node", sub: node.id, jti: node.jti });
    const revoke = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}/credentials/${node.jti}`, { method: "DELETE" });
    expect(revoke.status).toBe(200);
    const refused = await node.beat();
    expect(refused.status).toBe(401);
    expect((await problemOf(refused)).type).toBe("/problems/credential-revoked");
    expect(await poolStub(node.pool).credentialStatus(node.id, node.jti)).toMatchObject({ valid: false });
    await expect(verifyNodeCredential(env, TEST_JWT_SECRET, node.credential)).rejects.toSatisfy(
      (e) => e instanceof ApiError && e.slug === "credential-revoked",
    );

    // A fresh credential needs the node key, then works.
    const forged = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}/credentials`, {
      method: "POST",
      body: JSON.stringify({ ...node.credentialRequest(), signature: "00".repeat(64) }),
    });
    expect(forged.status).toBe(401);
    const fresh = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}/credentials`, {
      method: "POST",
      body: JSON.stringify(node.credentialRequest()),
    });
    expect(fresh.status).toBe(201);
    node.credential = (await fresh.json<{ token: string }>()).token;
    expect((await node.beat()).status).toBe(200);
  });

  it("marks a silent node offline by alarm, and back online on its next good beat", async () => {
    expect((await node.beat()).status).toBe(200);
    const stub = poolStub(node.pool);
    // Age the last beat past two intervals, as if the node had gone quiet three minutes ago.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE nodes SET last_heartbeat_at = ? WHERE id = ?", Date.now() - 3 * 60_000, node.id);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await nodeState(node)).state).toBe("offline");

    const back = await node.beat();
    expect(back.status).toBe(200);
    expect((await back.json<{ state: string }>()).state).toBe("active");
    const detail = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`);
    const { events } = await detail.json<{ events: { from: string | null; to: string; reason: string }[] }>();
    expect(events.slice(0, 3)).toEqual([
      expect.objectContaining({ from: "offline", to: "active", reason: "heartbeat-resumed" }),
      expect.objectContaining({ from: "active", to: "offline", reason: "missed-heartbeats" }),
      expect.objectContaining({ from: "registering", to: "active", reason: "heartbeat" }),
    ]);
  });

  it("keeps a beating node online through the alarm", async () => {
    expect((await node.beat()).status).toBe(200);
    await runDurableObjectAlarm(poolStub(node.pool));
    expect((await nodeState(node)).state).toBe("active");
  });
});

describe("suspension by an admin", () => {
  it("refuses the node's beats and credential until reinstated", async () => {
    expect((await node.beat()).status).toBe(200);
    const path = `/api/v1/nodes/${node.id}/suspension`;
    const byOperator = await asOperator(node.operatorId, path, {
      method: "PUT",
      body: JSON.stringify({ suspended: true, reason: "abuse" }),
    });
    expect(byOperator.status).toBe(403);

    // A token that merely claims ADMIN (no live admin session behind it) is refused: suspension is privileged.
    const claimed = await asOperator(
      "admin-7",
      path,
      { method: "PUT", body: JSON.stringify({ suspended: true, reason: "abuse report" }) },
      "ADMIN",
    );
    expect(claimed.status).toBe(401);
    expect((await nodeState(node)).state).toBe("active");

    const admin = await steppedUpAdmin();
    const suspend = await asAdmin(admin.token, path, { method: "PUT", body: JSON.stringify({ suspended: true, reason: "abuse report" }) });
    expect(suspend.status).toBe(200);
    expect((await suspend.json<{ state: string }>()).state).toBe("suspended");
    expect((await node.beat()).status).toBe(401);
    expect(await poolStub(node.pool).credentialStatus(node.id, node.jti)).toMatchObject({ valid: false, state: "suspended" });

    const reinstate = await asAdmin(admin.token, path, { method: "PUT", body: JSON.stringify({ suspended: false, reason: "cleared" }) });
    expect((await reinstate.json<{ state: string }>()).state).toBe("offline");
    expect((await node.beat()).status).toBe(200);
    expect((await nodeState(node)).state).toBe("active");
  });

  it("terminates a node for good at its operator's request", async () => {
    expect((await node.beat()).status).toBe(200);
    expect((await asOperator("someone-else", `/api/v1/nodes/${node.id}`, { method: "DELETE" })).status).toBe(404);
    const res = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect((await res.json<{ state: string }>()).state).toBe("terminated");
    expect((await node.beat()).status).toBe(401);
    expect(await poolStub(node.pool).credentialStatus(node.id, node.jti)).toMatchObject({ valid: false, state: "terminated" });
    const again = await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`, { method: "DELETE" });
    expect(again.status).toBe(200);
    const admin = await steppedUpAdmin();
    const reinstate = await asAdmin(admin.token, `/api/v1/nodes/${node.id}/suspension`, {
      method: "PUT",
      body: JSON.stringify({ suspended: false, reason: "x" }),
    });
    expect(reinstate.status).toBe(409);
    expect((await problemOf(reinstate)).type).toBe("/problems/node-state-conflict");
  });

  it("hides a node from other operators and shows every node to admins", async () => {
    expect((await asOperator("someone-else", `/api/v1/nodes/${node.id}`)).status).toBe(404);
    const all = await asOperator("admin-8", "/api/v1/nodes", {}, "ADMIN");
    const { nodes } = await all.json<{ nodes: { id: string }[] }>();
    expect(nodes.map((n) => n.id)).toContain(node.id);
    const mine = await asOperator(node.operatorId, "/api/v1/nodes");
    expect((await mine.json<{ nodes: { id: string }[] }>()).nodes.map((n) => n.id)).toEqual([node.id]);
  });
});

/** Posts an exact body (e.g. one already sent) with the node's credential. */
function fetchBeat(n: TestNode, body: unknown) {
  return api(`/api/v1/nodes/${n.id}/heartbeats`, {
    method: "POST",
    headers: { "X-Node-Credential": n.credential, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}
