import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { api, problemOf } from "./helpers.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { asAdmin, asOperator, QUIET, EPOCH_MS, poolStub, storeBeats, TestNode } from "./node-agent.ts";
import { chunkBytes, recordingSession, uploadHeaders } from "./session-helpers.ts";

// Issue 15: operational time and credits come from what the server observed, beats answer the
// pool's challenge, and every counter is bounded.
const INTERVAL_S = 60; // HEARTBEAT_INTERVAL_SECONDS

/** One beat every `every` seconds from one interval before the epoch to one after. */
function steady(every: number, sessions = 0, bytes = 0): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let t = -INTERVAL_S; t <= 3600 + INTERVAL_S; t += every) out.push([t, sessions, bytes]);
  return out;
}

async function openAlerts(key: string) {
  const admin = env.ADMIN.get(env.ADMIN.idFromName("admin"));
  return (await admin.listAlerts({ limit: 200 })).filter((a) => a.key === key);
}

let node: TestNode;
let epoch: number;
beforeEach(async () => {
  node = new TestNode(`op-poot-${crypto.randomUUID()}`);
  expect((await node.register()).status).toBe(201);
  epoch = Math.floor(Date.now() / EPOCH_MS) - 5;
});

describe("the heartbeat challenge", () => {
  it("is handed out at registration and by every accepted beat, each one used once", async () => {
    const first = node.challenge;
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect((await node.beat()).status).toBe(200);
    expect(node.challenge).not.toBe(first);
    // The registration's challenge is spent: a later beat signing it is refused, and the refusal names the current one.
    const old = await node.beat({ challenge: first });
    expect(old.status).toBe(409);
    expect(await problemOf(old)).toMatchObject({ type: "/problems/heartbeat-challenge", challenge: node.challenge, lastSeq: 1 });
    expect((await node.beat()).status).toBe(200);
  });

  it("refuses a beat pre-signed before the pool's answer, a replay, and one with no challenge", async () => {
    // Signed in advance: the node cannot know the challenge the next answer will carry.
    const preSigned = node.heartbeatBody({ seq: node.seq + 2, challenge: "0".repeat(32) });
    const sent = node.heartbeatBody();
    expect((await node.send(sent)).status).toBe(200);
    const refused = await node.send(preSigned);
    expect(refused.status).toBe(409);
    expect((await problemOf(refused)).type).toBe("/problems/heartbeat-challenge");
    // The same beat again: its seq and its challenge are used up.
    expect((await node.send(sent)).status).toBe(409);
    // A beat of version 1 (no challenge) is not a heartbeat any more.
    const { challenge: _dropped, ...v1 } = node.heartbeatBody({ seq: 9 });
    const absent = await node.send(v1);
    expect(absent.status).toBe(400);
    expect((await poolStub(node.pool).getNode(node.id))!.lastSeq).toBe(1);
  });

  it("refuses a second process that copied the key and signs with a challenge the agent already used", async () => {
    const copied = node.challenge;
    expect((await node.beat()).status).toBe(200);
    const twin = node.heartbeatBody({ seq: node.seq + 1, challenge: copied });
    expect((await node.send(twin)).status).toBe(409);
    expect((await node.beat()).status).toBe(200);
  });

  it("is given again to a restarted agent that holds the credential, and to no one else", async () => {
    expect((await node.beat()).status).toBe(200);
    const current = node.challenge;
    node.challenge = "";
    expect((await node.fetchChallenge(null)).status).toBe(401);
    const other = new TestNode(node.operatorId);
    expect((await other.register()).status).toBe(201);
    expect((await node.fetchChallenge(other.credential)).status).toBe(403);
    const res = await node.fetchChallenge();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: current, lastSeq: 1, nextHeartbeatSeconds: INTERVAL_S });
    expect((await node.beat()).status).toBe(200);
  });
});

describe("bounded counters", () => {
  it("refuses seq 2^53−1 (and anything beyond the window); the node beats on afterwards", async () => {
    expect((await node.beat()).status).toBe(200);
    const huge = await node.beat({ seq: Number.MAX_SAFE_INTEGER });
    expect(huge.status).toBe(409);
    expect(await problemOf(huge)).toMatchObject({ type: "/problems/heartbeat-seq-out-of-window", lastSeq: 1, seqWindow: 100_000 });
    expect((await node.beat({ seq: 1 + 100_001 })).status).toBe(409);
    expect((await node.beat({ seq: 1 + 100_000 })).status).toBe(200);
    expect((await node.beat()).status).toBe(200);
    expect((await poolStub(node.pool).getNode(node.id))!.lastSeq).toBe(100_002);
  });

  it("refuses reports beyond what the node declared at enrolment", async () => {
    expect((await node.beat()).status).toBe(200);
    // PI5: 100 Mbit/s, 4 cores. A terabyte since the last beat a moment ago is not possible.
    const bytes = await node.beat({ report: { ...QUIET, bytesRecorded: 1_000_000_000_000 } });
    expect(bytes.status).toBe(422);
    expect(await problemOf(bytes)).toMatchObject({ type: "/problems/report-out-of-bounds", field: "bytesRecorded" });
    const sessions = await node.beat({ report: { ...QUIET, sessionsHosted: 10_000 } });
    expect(sessions.status).toBe(422);
    expect(await problemOf(sessions)).toMatchObject({ field: "sessionsHosted", max: 256 });
    expect((await node.beat({ report: { ...QUIET, sessionsHosted: 2, bytesRecorded: 1_000_000 } })).status).toBe(200);
  });
});

describe("credits from what the server saw", () => {
  it("beats faster than the interval earn nothing more than one per interval", async () => {
    const fast = new TestNode(node.operatorId);
    expect((await fast.register()).status).toBe(201);
    await storeBeats(node, epoch, steady(INTERVAL_S));
    await storeBeats(fast, epoch, steady(0.5));
    const closed = await poolStub(node.pool).closeEpoch(epoch);
    const credits = (id: string) => closed.find((r) => r.nodeId === id);
    expect(credits(node.id)).toMatchObject({ credits: 60, operationalSeconds: 3600, status: "accrued" });
    expect(credits(fast.id)).toMatchObject({ credits: 60, operationalSeconds: 3600, status: "accrued" });
  });

  it("a node claiming work it did not do earns exactly what the server saw; the epoch is held and alerted", async () => {
    // The server placed one session on the node and saw it record from minute 10 of the epoch on, with two chunks.
    const session = await recordingSession(`owner-${crypto.randomUUID()}`, node.id);
    for (const index of [0, 1]) {
      const res = await api(`/api/v1/sessions/${session.id}/chunks/${index}`, {
        method: "PUT",
        headers: { "X-Node-Credential": node.credential, ...(await uploadHeaders(chunkBytes(index))) },
        body: chunkBytes(index),
      });
      expect(res.status).toBe(201);
    }
    const start = epoch * EPOCH_MS;
    // Move that history into the (past) epoch under test: assignment, start and chunk arrivals.
    await runInDurableObject(env.SESSIONS.get(env.SESSIONS.idFromName(session.id)), (_i, state) => {
      state.storage.sql.exec("UPDATE session SET started_at = ?", start + 600_000);
      state.storage.sql.exec("UPDATE chunks SET received_at = ?", start + 900_000);
    });
    await runInDurableObject(poolStub(node.pool), (_i, state) => {
      state.storage.sql.exec("UPDATE node_sessions SET assigned_at = ? WHERE session_id = ?", start + 500_000, session.id);
    });
    // The node claims 50 sessions and a gigabyte a minute all epoch long.
    await storeBeats(node, epoch, steady(INTERVAL_S, 50, 1_000_000_000));

    const pool = poolStub(node.pool);
    // Observed: 3600 s up (60 credits) + 3000 session-s (50 credits) + 8 KiB stored (0 credits) = 110.
    expect(await pool.closeEpoch(epoch)).toEqual([{ nodeId: node.id, credits: 110, operationalSeconds: 3600, status: "held" }]);
    const detail = await (
      await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`)
    ).json<{
      node: { accrued: string; credits: number };
      epochs: {
        status: string;
        sessionSeconds: number;
        bytesRecorded: string;
        reported: { sessionSeconds: number; bytesRecorded: string };
      }[];
    }>();
    expect(detail.node).toMatchObject({ accrued: "0.000000", credits: 0 });
    expect(detail.epochs[0]).toMatchObject({
      status: "held",
      sessionSeconds: 3000,
      bytesRecorded: String(2 * 4096),
      reported: { sessionSeconds: 50 * 3600, bytesRecorded: String(60 * 1_000_000_000) },
    });
    // Held: no work credit on the chain, no leader weight, and an alert for the admins.
    expect((await pool.pendingChainTransactions(100)).some((t) => t.type === "work-credit" && t.nodeId === node.id)).toBe(false);
    expect((await pool.epochWeights(epoch)).some((w) => w.nodeId === node.id)).toBe(false);
    const key = `poot:${node.id.replace(/_/g, "-")}:${epoch}`;
    expect(await openAlerts(key)).toEqual([expect.objectContaining({ severity: "warning", source: "node-pool", state: "open" })]);

    // Only an admin decides; releasing pays what the server saw (110 credits), never the claim.
    const admin = await steppedUpAdmin();
    const init = { method: "POST", body: JSON.stringify({ decision: "release" }) };
    const review = (role: "NODE_OPERATOR" | "ADMIN") =>
      role === "ADMIN"
        ? asAdmin(admin.token, `/api/v1/nodes/${node.id}/epochs/${epoch}/review`, init)
        : asOperator(node.operatorId, `/api/v1/nodes/${node.id}/epochs/${epoch}/review`, init);
    expect((await review("NODE_OPERATOR")).status).toBe(403);
    const released = await review("ADMIN");
    expect(released.status).toBe(200);
    expect(await released.json()).toMatchObject({ status: "released", credits: 110, earned: "0.110000" });
    expect((await review("ADMIN")).status).toBe(409);
    const audit = env.AUDIT.get(env.AUDIT.idFromName("audit"));
    const entries = await runInDurableObject(audit, (_i, state) =>
      state.storage.sql.exec("SELECT action, actor_id FROM audit_events WHERE target_id = ?", `${node.id}:${epoch}`).toArray(),
    );
    expect(entries).toEqual([{ action: "admin.node_epoch_review", actor_id: admin.id }]);
    const credit = (await pool.pendingChainTransactions(100)).find((t) => t.type === "work-credit" && t.nodeId === node.id);
    expect(credit).toMatchObject({
      credits: 110,
      weight: 110,
      operationalSeconds: 3600,
      sessionSeconds: 3000,
      bytesRecorded: String(2 * 4096),
    });
    expect(await pool.epochWeights(epoch)).toContainEqual({ nodeId: node.id, weight: 110 });
    const after = await (
      await asOperator(node.operatorId, `/api/v1/nodes/${node.id}`)
    ).json<{ node: { accrued: string; credits: number } }>();
    expect(after.node).toMatchObject({ accrued: "0.110000", credits: 110 });
  });

  it("pays a session only to the node the server placed it on", async () => {
    const other = new TestNode(node.operatorId);
    expect((await other.register()).status).toBe(201);
    const session = await recordingSession(`owner-${crypto.randomUUID()}`, other.id);
    const start = epoch * EPOCH_MS;
    await runInDurableObject(env.SESSIONS.get(env.SESSIONS.idFromName(session.id)), (_i, state) => {
      state.storage.sql.exec("UPDATE session SET started_at = ?", start);
    });
    // Even if the pool had it on record for the wrong node, the session itself says whose it is.
    await runInDurableObject(poolStub(node.pool), (_i, state) => {
      state.storage.sql.exec(
        "INSERT INTO node_sessions (session_id, node_id, assigned_at) VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET node_id = excluded.node_id, assigned_at = excluded.assigned_at",
        session.id,
        node.id,
        start,
      );
    });
    await storeBeats(node, epoch, steady(INTERVAL_S));
    const closed = await poolStub(node.pool).closeEpoch(epoch);
    expect(closed.find((r) => r.nodeId === node.id)).toEqual({ nodeId: node.id, credits: 60, operationalSeconds: 3600, status: "accrued" });
  });
});
