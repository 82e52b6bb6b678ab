import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, problemOf } from "./helpers.ts";
import { TestNode } from "./node-agent.ts";
import { TestRdpAgent } from "./rdp-agent.ts";
import {
  as,
  hostStatus,
  hostsClosedAfterEach,
  requestDesktop,
  runningDesktop,
  serverPath,
  serverRow,
  until,
  type DesktopJson,
} from "./rdp-helpers.ts";
import { chunkBytes, createSession, sessionDO, settle, uploadHeaders } from "./session-helpers.ts";

const host = hostsClosedAfterEach();

const nodeAuth = (node: TestNode) => ({ Authorization: `Bearer ${node.credential}` });

async function put(sessionId: string, index: number, node: TestNode, salt = 0) {
  const bytes = chunkBytes(index, 2048, salt);
  return api(`/api/v1/sessions/${sessionId}/chunks/${index}`, {
    method: "PUT",
    headers: { ...nodeAuth(node), ...(await uploadHeaders(bytes)) },
    body: bytes,
  });
}

async function handovers(sessionId: string, node: TestNode) {
  const res = await api(`/api/v1/sessions/${sessionId}/handover`, { headers: nodeAuth(node) });
  return {
    status: res.status,
    body: (await res.json()) as {
      nodeId: string;
      firstIndex: number | null;
      handovers: { fromNode: string; toNode: string; firstIndex: number | null; settledBy: string | null }[];
    },
  };
}

async function declare(sessionId: string, node: TestNode, chunkCount: number) {
  return api(`/api/v1/sessions/${sessionId}/handover/seal`, {
    method: "POST",
    headers: { ...nodeAuth(node), "Content-Type": "application/json" },
    body: JSON.stringify({ chunkCount }),
  });
}

/** A recording desktop on host `a`, migrated by its owner to host `b`. */
async function migrated(owner: string, a: Awaited<ReturnType<typeof host>>, b: Awaited<ReturnType<typeof host>>, before: number[] = []) {
  const { session, desktop } = await runningDesktop(owner, a);
  expect((await api(`/api/v1/sessions/${session.id}/start`, { method: "POST", headers: await as(owner) })).status).toBe(200);
  for (const i of before) expect((await put(session.id, i, a.node)).status).toBe(201);
  const res = await api(await serverPath(a.node.id, desktop.server.id, "/migrate"), {
    method: "POST",
    headers: await as(owner),
    body: JSON.stringify({ toHostId: b.node.id }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return { session, desktop, moved: (await res.json()) as DesktopJson };
}

describe("migration hands the recording over", { timeout: 60_000 }, () => {
  it("reassigns the session to the new host in the same step; the old host finishes its part, the new one continues after it", async () => {
    const a = await host("op-ho-a");
    const b = await host("op-ho-b");
    const { session } = await migrated("ho-user", a, b, [0, 1]);

    // The assignment moved, audited in the session's event log.
    const view = (await (await api(`/api/v1/sessions/${session.id}`, { headers: await as("ho-user") })).json()) as { nodeId: string };
    expect(view.nodeId).toBe(b.node.id);
    const events = (await (await api(`/api/v1/sessions/${session.id}/events`, { headers: await as("ho-user") })).json()) as {
      items: { kind: string; actor: string; detail: unknown }[];
    };
    expect(events.items.find((e) => e.kind === "handover")).toMatchObject({
      actor: "user:ho-user",
      detail: { from: a.node.id, to: b.node.id },
    });

    // The new host fetches the key; the old one may not any more.
    expect((await api(`/api/v1/sessions/${session.id}/key`, { headers: nodeAuth(b.node) })).status).toBe(200);
    expect((await api(`/api/v1/sessions/${session.id}/key`, { headers: nodeAuth(a.node) })).status).toBe(403);

    // Until the old host declares its count, the new host does not know where it starts and may not upload.
    expect((await handovers(session.id, b.node)).body).toMatchObject({ nodeId: b.node.id, firstIndex: null });
    const early = await put(session.id, 2, b.node);
    expect(early.status).toBe(409);
    expect((await problemOf(early)).type).toMatch(/handover-pending$/);

    // The old host uploads what it recorded before, declares 4 chunks, and sends its last one.
    expect((await put(session.id, 2, a.node)).status).toBe(201);
    expect((await declare(session.id, b.node, 4)).status).toBe(403); // only the old host declares
    expect((await declare(session.id, a.node, 4)).status).toBe(200);
    expect((await declare(session.id, a.node, 4)).status).toBe(200); // a repeat is fine
    expect((await declare(session.id, a.node, 9)).status).toBe(409); // changing it is not
    expect((await put(session.id, 3, a.node)).status).toBe(201);
    // …and nothing at or above its count: those indices are the new host's.
    expect((await put(session.id, 4, a.node)).status).toBe(403);

    expect((await handovers(session.id, b.node)).body).toMatchObject({
      firstIndex: 4,
      handovers: [{ fromNode: a.node.id, toNode: b.node.id, firstIndex: 4, settledBy: "node" }],
    });
    expect((await put(session.id, 3, b.node, 1)).status).toBe(403); // below its first index
    expect((await put(session.id, 4, b.node)).status).toBe(201);
    expect((await put(session.id, 5, b.node)).status).toBe(201);

    // The evidence covers both parts.
    expect((await api(`/api/v1/sessions/${session.id}/stop`, { method: "POST", headers: await as("ho-user") })).status).toBe(200);
    expect(await settle(session.id, (s) => s === "completed" || s === "stored")).toMatch(/completed|stored/);
    const manifest = (await (await api(`/api/v1/sessions/${session.id}/manifest`, { headers: await as("ho-user") })).json()) as {
      treeSize: number;
      parts: { node: string; firstIndex: number; since: string | null }[];
    };
    expect(manifest.treeSize).toBe(6);
    // Work credits: each host for its own part only (chunks by index range, time until / from the hand-over).
    const usage = (nodeId: string) => runInDurableObject(sessionDO(session.id), (instance) => instance.usage(nodeId, 0, Date.now() + 1000));
    const [ua, ub] = [await usage(a.node.id), await usage(b.node.id)];
    expect(ua).toMatchObject({ assigned: true, chunksStored: 4 });
    expect(ub).toMatchObject({ assigned: true, chunksStored: 2 });
    expect(ua!.recording!.end).toBeLessThanOrEqual(ub!.recording!.start);
    expect(manifest.parts).toEqual([
      { node: a.node.id, firstIndex: 0, since: null },
      { node: b.node.id, firstIndex: 4, since: expect.any(String) },
    ]);
  });

  it("refuses the old host once its grace ends; a grace that ends undeclared fixes the boundary at what it stored", async () => {
    const a = await host("op-grace-a");
    const b = await host("op-grace-b");
    const { session } = await migrated("grace-user", a, b, [0]);
    expect((await put(session.id, 1, a.node)).status).toBe(201);
    await runInDurableObject(sessionDO(session.id), (_instance, state) => {
      state.storage.sql.exec("UPDATE handovers SET grace_until = 0");
    });
    expect((await put(session.id, 2, a.node)).status).toBe(403);
    expect((await declare(session.id, a.node, 3)).status).toBe(403);
    expect((await handovers(session.id, a.node)).status).toBe(403); // not even asking
    expect((await handovers(session.id, b.node)).body).toMatchObject({ firstIndex: 2, handovers: [{ settledBy: "grace" }] });
    expect((await put(session.id, 2, b.node)).status).toBe(201);
  });

  it("keeps a hostile old host out of the new host's range and refuses a second move while one is pending", async () => {
    const a = await host("op-host-a");
    const b = await host("op-host-b");
    const { session, moved } = await migrated("hostile-user", a, b, [0]);
    // Before declaring, the old host may claim only a bounded window above what was stored at the hand-over.
    const far = await put(session.id, 1 + 128, a.node);
    expect(far.status).toBe(403);
    // It cannot declare fewer chunks than it stored, nor more than its window.
    expect((await declare(session.id, a.node, 0)).status).toBe(409);
    expect((await declare(session.id, a.node, 500)).status).toBe(409);
    // Moving on while the old host has not declared is refused, and the desktop started for it is stopped again.
    const start = await b.agent.command("server.start");
    b.agent.ack(start.id);
    await until(async () => (await serverRow(b.node.id, moved.server.id))?.state === "running");
    const again = await api(await serverPath(b.node.id, moved.server.id, "/migrate"), {
      method: "POST",
      headers: await as("hostile-user"),
      body: JSON.stringify({ toHostId: a.node.id }),
    });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).type).toMatch(/handover-pending$/);
    const view = (await (await api(`/api/v1/sessions/${session.id}`, { headers: await as("hostile-user") })).json()) as { nodeId: string };
    expect(view.nodeId).toBe(b.node.id);
    expect(await serverRow(b.node.id, moved.server.id)).toMatchObject({ state: "running" });
    // A user other than the owner cannot move the session at all.
    const stranger = await api(await serverPath(b.node.id, moved.server.id, "/migrate"), {
      method: "POST",
      headers: await as("someone-else"),
      body: JSON.stringify({ toHostId: a.node.id }),
    });
    expect([403, 404]).toContain(stranger.status);
  });
});

describe("port ranges of agents sharing a machine", { timeout: 60_000 }, () => {
  it("allocates inside the range the agent said it serves in its hello", async () => {
    const node = new TestNode("op-ports");
    expect((await node.register()).status).toBe(201);
    const agent = await TestRdpAgent.connect(node, { address: "pi.example", ports: { min: 13400, max: 13400 } });
    host.closeLater(agent);
    await hostStatus(node.id);
    const first = await requestDesktop("ports-user", node.id);
    expect(first.res.status).toBe(201);
    expect(((await first.res.json()) as DesktopJson).port).toBe(13400);
    const second = await requestDesktop("ports-user", node.id);
    expect(second.res.status).toBe(503); // its one port is taken: the rest of the pool is not its to give
  });
});

describe("clipboard and audio policy", { timeout: 60_000 }, () => {
  it("carries the session's rdp.clipboard and rdp.audio into the desktop's configuration, and with a migration", async () => {
    const a = await host("op-policy-a");
    const b = await host("op-policy-b");
    const session = await createSession("policy-user", a.node.id, { rdp: { clipboard: true, audio: false } });
    const res = await api("/api/v1/rdp/desktops", {
      method: "POST",
      headers: await as("policy-user"),
      body: JSON.stringify({ sessionId: session.id }),
    });
    expect(res.status).toBe(201);
    const desktop = (await res.json()) as DesktopJson;
    const start = await a.agent.command("server.start");
    expect(start.command).toMatchObject({ config: { clipboard: true, audio: false } });
    a.agent.ack(start.id);
    await until(async () => (await serverRow(a.node.id, desktop.server.id))?.state === "running");
    const moved = await api(await serverPath(a.node.id, desktop.server.id, "/migrate"), {
      method: "POST",
      headers: await as("policy-user"),
      body: JSON.stringify({ toHostId: b.node.id }),
    });
    expect(moved.status).toBe(201);
    expect((await b.agent.command("server.start")).command).toMatchObject({ config: { clipboard: true, audio: false } });

    // A session created without them: both off.
    const plain = await createSession("policy-user", a.node.id);
    expect(
      (
        await api("/api/v1/rdp/desktops", {
          method: "POST",
          headers: await as("policy-user"),
          body: JSON.stringify({ sessionId: plain.id }),
        })
      ).status,
    ).toBe(201);
    expect((await a.agent.command("server.start")).command).toMatchObject({ config: { clipboard: false, audio: false } });
  });
});
