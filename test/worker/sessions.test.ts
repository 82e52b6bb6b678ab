import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, problemOf } from "./helpers.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { asAdmin } from "./node-agent.ts";
import {
  createSession,
  env,
  nodeHeaders,
  nodeIdOf,
  putChunk,
  chunkBytes,
  recordingSession,
  userHeaders,
  type SessionJson,
} from "./session-helpers.ts";

describe("session lifecycle", { timeout: 30_000 }, () => {
  it("creates a session owned by the caller, with defaults and a wrapped key", async () => {
    const session = await createSession("alice", "node-1", { tags: ["demo", "finance"], notes: "quarterly audit" });
    expect(session).toMatchObject({
      ownerId: "alice",
      nodeId: await nodeIdOf("node-1"),
      state: "created",
      tags: ["demo", "finance"],
      keyShredded: false,
    });
    expect(session.rdp).toMatchObject({ width: 1920, height: 1080, colorDepth: 32 });
    const res = await api(`/api/v1/sessions/${session.id}`, { headers: await userHeaders("alice") });
    expect(res.status).toBe(200);
    expect(((await res.json()) as SessionJson).id).toBe(session.id);
  });

  it("validates the body and refuses anonymous callers and nodes", async () => {
    const bad = await api("/api/v1/sessions", {
      method: "POST",
      headers: await userHeaders("alice"),
      body: JSON.stringify({ nodeId: "node 1", title: "", rdp: { width: 5 } }),
    });
    expect(bad.status).toBe(400);
    const problem = await problemOf(bad);
    expect((problem.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(["nodeId", "rdp.width", "title"]);
    const anonymous = await api("/api/v1/sessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(anonymous.status).toBe(401);
    const node = await api("/api/v1/sessions", {
      method: "POST",
      headers: { ...(await nodeHeaders("node-1")), "Content-Type": "application/json" },
      body: JSON.stringify({ nodeId: await nodeIdOf("node-1"), title: "x" }),
    });
    expect(node.status).toBe(403);
  });

  it("places sessions only on registered nodes that are not suspended or terminated", async () => {
    const before = (await (await api("/api/v1/sessions", { headers: await userHeaders("placer") })).json()) as { items: unknown[] };
    const post = async (nodeId: string) =>
      api("/api/v1/sessions", { method: "POST", headers: await userHeaders("placer"), body: JSON.stringify({ nodeId, title: "placed" }) });
    const unknown = await post("node_not-registered");
    expect(unknown.status).toBe(422);
    expect(await problemOf(unknown)).toMatchObject({ type: "/problems/unknown-node", nodeId: "node_not-registered" });

    const nodeId = await nodeIdOf("node-placed");
    const admin = await steppedUpAdmin();
    const suspend = await asAdmin(admin.token, `/api/v1/nodes/${nodeId}/suspension`, {
      method: "PUT",
      body: JSON.stringify({ suspended: true, reason: "maintenance" }),
    });
    expect(suspend.status).toBe(200);
    const suspended = await post(nodeId);
    expect(suspended.status).toBe(409);
    expect(await problemOf(suspended)).toMatchObject({ type: "/problems/node-state-conflict", state: "suspended" });
    const after = (await (await api("/api/v1/sessions", { headers: await userHeaders("placer") })).json()) as { items: unknown[] };
    expect(after.items).toHaveLength(before.items.length); // nothing was created

    const lifted = await asAdmin(admin.token, `/api/v1/nodes/${nodeId}/suspension`, {
      method: "PUT",
      body: JSON.stringify({ suspended: false, reason: "back" }),
    });
    expect(lifted.status).toBe(200);
    expect((await post(nodeId)).status).toBe(201);
  });

  it("walks created → recording → processing and logs each transition", async () => {
    const session = await recordingSession("bob", "node-2");
    expect(session.state).toBe("recording");
    expect((await putChunk(session.id, 0, chunkBytes(0), "node-2")).status).toBe(201);
    const stop = await api(`/api/v1/sessions/${session.id}/stop`, { method: "POST", headers: await userHeaders("bob") });
    expect(stop.status).toBe(200);
    expect(((await stop.json()) as SessionJson).state).toBe("processing");
    const events = await api(`/api/v1/sessions/${session.id}/events`, { headers: await userHeaders("bob") });
    const log = (await events.json()) as { items: { kind: string; fromState: string | null; toState: string | null; actor: string }[] };
    // The pipeline's alarm may already have moved on past processing.
    expect(
      log.items
        .filter((e) => e.kind === "transition" || e.kind === "created")
        .map((e) => e.toState)
        .slice(0, 3),
    ).toEqual(["created", "recording", "processing"]);
    expect(log.items.find((e) => e.kind === "chunk-stored")?.actor).toBe(`node:${await nodeIdOf("node-2")}`);
  });

  it("refuses invalid transitions with the current state", async () => {
    const session = await createSession("carol", "node-3");
    const stop = await api(`/api/v1/sessions/${session.id}/stop`, { method: "POST", headers: await userHeaders("carol") });
    expect(stop.status).toBe(409);
    expect(await problemOf(stop)).toMatchObject({ type: "/problems/invalid-state", state: "created" });
    await api(`/api/v1/sessions/${session.id}/start`, { method: "POST", headers: await userHeaders("carol") });
    const again = await api(`/api/v1/sessions/${session.id}/start`, { method: "POST", headers: await userHeaders("carol") });
    expect(again.status).toBe(409);
  });

  it("another user's session is not found; an admin sees it", async () => {
    const session = await createSession("dave", "node-4");
    for (const [method, path] of [
      ["GET", ""],
      ["POST", "/start"],
      ["DELETE", ""],
      ["GET", "/key"],
      ["GET", "/events"],
    ] as const) {
      const res = await api(`/api/v1/sessions/${session.id}${path}`, { method, headers: await userHeaders("mallory") });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const admin = await api(`/api/v1/sessions/${session.id}`, { headers: await userHeaders("root", "ADMIN") });
    expect(admin.status).toBe(200);
    const unknown = await api(`/api/v1/sessions/${crypto.randomUUID()}`, { headers: await userHeaders("dave") });
    expect(unknown.status).toBe(404);
    const malformed = await api(`/api/v1/sessions/not-a-uuid`, { headers: await userHeaders("dave") });
    expect(malformed.status).toBe(400);
  });

  it("asking for sessions that do not exist writes nothing: their objects stay without tables", async () => {
    const ghost = crypto.randomUUID();
    const headers = await userHeaders("dave");
    for (const path of ["", "/events", "/key", "/manifest", "/evidence"]) {
      expect((await api(`/api/v1/sessions/${ghost}${path}`, { headers })).status, path).toBe(404);
    }
    expect((await api(`/api/v1/sessions/${ghost}/stop`, { method: "POST", headers, body: "{}" })).status).toBe(404);
    // The chain's notice for an anchor of an unknown session is settled the same way.
    const stub = env.SESSIONS.get(env.SESSIONS.idFromName(ghost));
    expect(
      await stub.recordAnchor({
        chain: "lucid",
        blockHeight: 1,
        blockHash: "0".repeat(64),
        txId: "1".repeat(64),
        anchoredAt: new Date().toISOString(),
      }),
    ).toMatchObject({ ok: false, problem: { slug: "not-found" } });
    const tables = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    expect(tables.filter((t) => !String(t.name).startsWith("_cf_"))).toEqual([]);
    // Creating one in a fresh object still works, and that object then has its tables.
    const created = await createSession("dave", "node-6");
    const createdTables = await runInDurableObject(env.SESSIONS.get(env.SESSIONS.idFromName(created.id)), (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'session'").toArray(),
    );
    expect(createdTables).toHaveLength(1);
  });

  it("releases the data key to the owner and the assigned node only (admins share it instead)", async () => {
    const session = await createSession("erin", "node-5");
    const owner = await api(`/api/v1/sessions/${session.id}/key`, { headers: await userHeaders("erin") });
    expect(owner.status).toBe(200);
    expect(owner.headers.get("Cache-Control")).toBe("no-store");
    const { key } = (await owner.json()) as { key: string };
    expect(atob(key)).toHaveLength(32);
    const node = await api(`/api/v1/sessions/${session.id}/key`, { headers: await nodeHeaders("node-5") });
    expect(((await node.json()) as { key: string }).key).toBe(key);
    const admin = await api(`/api/v1/sessions/${session.id}/key`, { headers: await userHeaders("root", "ADMIN") });
    expect(admin.status).toBe(403);
    const otherNode = await api(`/api/v1/sessions/${session.id}/key`, { headers: await nodeHeaders("node-x") });
    expect(otherNode.status).toBe(403);
    // Another session's key differs: keys are per session.
    const second = await createSession("erin", "node-5");
    const secondKey = await api(`/api/v1/sessions/${second.id}/key`, { headers: await userHeaders("erin") });
    expect(((await secondKey.json()) as { key: string }).key).not.toBe(key);
  });

  it("delete shreds the key and the chunks but keeps the record", async () => {
    const session = await recordingSession("frank", "node-6");
    expect((await putChunk(session.id, 0, chunkBytes(0), "node-6")).status).toBe(201);
    const before = await env.CHUNKS.list({ prefix: `sessions/${session.id}/chunks/` });
    expect(before.objects).toHaveLength(1);
    const del = await api(`/api/v1/sessions/${session.id}`, { method: "DELETE", headers: await userHeaders("frank") });
    expect(del.status).toBe(200);
    expect((await del.json()) as SessionJson).toMatchObject({ state: "cancelled", keyShredded: true, deleted: true });
    const after = await env.CHUNKS.list({ prefix: `sessions/${session.id}/chunks/` });
    expect(after.objects).toHaveLength(0);
    const key = await api(`/api/v1/sessions/${session.id}/key`, { headers: await userHeaders("frank") });
    expect(key.status).toBe(410);
    const chunk = await api(`/api/v1/sessions/${session.id}/chunks/0`, { headers: await userHeaders("frank") });
    expect(chunk.status).toBe(410);
    const node = await api(`/api/v1/sessions/${session.id}`, { method: "DELETE", headers: await nodeHeaders("node-6") });
    expect(node.status).toBe(403);
  });
});

describe("listing and search", { timeout: 30_000 }, () => {
  it("lists newest first with cursor pagination and filters; users see only their own", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createSession("lister", i % 2 ? "node-odd" : "node-even", { title: `Listing ${i}` })).id);
    await createSession("someone-else", "node-even");
    await api(`/api/v1/sessions/${ids[0]}/start`, { method: "POST", headers: await userHeaders("lister") });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await api(`/api/v1/sessions${query}`, { headers: await userHeaders("lister") });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { id: string; ownerId: string }[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      expect(page.items.every((s) => s.ownerId === "lister")).toBe(true);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(seen).toHaveLength(5);

    const byNode = await api(`/api/v1/sessions?nodeId=${await nodeIdOf("node-odd")}`, { headers: await userHeaders("lister") });
    expect(((await byNode.json()) as { items: unknown[] }).items).toHaveLength(2);
    const byState = await api(`/api/v1/sessions?state=recording`, { headers: await userHeaders("lister") });
    expect(((await byState.json()) as { items: { id: string }[] }).items.map((s) => s.id)).toEqual([ids[0]]);
    const future = await api(`/api/v1/sessions?createdFrom=2999-01-01T00:00:00Z`, { headers: await userHeaders("lister") });
    expect(((await future.json()) as { items: unknown[] }).items).toHaveLength(0);

    const foreign = await api(`/api/v1/sessions?ownerId=someone-else`, { headers: await userHeaders("lister") });
    expect(foreign.status).toBe(403);
    const admin = await api(`/api/v1/sessions?ownerId=someone-else`, { headers: await userHeaders("root", "ADMIN") });
    expect(((await admin.json()) as { items: unknown[] }).items.length).toBeGreaterThanOrEqual(1);
    const badCursor = await api(`/api/v1/sessions?cursor=bm9wZQ`, { headers: await userHeaders("lister") });
    expect(badCursor.status).toBe(400);
  });

  it("searches title, tags and notes with bm25 ranking and snippets, scoped to the caller", async () => {
    await createSession("searcher", "node-s", { title: "Payroll migration", tags: ["finance"], notes: "Moving payroll to the new system" });
    await createSession("searcher", "node-s", { title: "Printer setup", tags: ["office"], notes: "payroll printer mentioned once" });
    await createSession("intruder", "node-s", { title: "Payroll secrets", tags: ["finance"] });
    const res = await api(`/api/v1/sessions/search?q=payroll`, { headers: await userHeaders("searcher") });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { title: string; ownerId: string; rank: number; snippet: string }[] };
    expect(items.map((i) => i.title)).toEqual(["Payroll migration", "Printer setup"]);
    expect(items[0]!.rank).toBeLessThanOrEqual(items[1]!.rank);
    expect(items[0]!.snippet).toContain("«Payroll»");
    const byTag = await api(`/api/v1/sessions/search?q=${encodeURIComponent('financ" (')}`, { headers: await userHeaders("searcher") });
    expect(byTag.status).toBe(200);
    const tagItems = ((await byTag.json()) as { items: { title: string }[] }).items;
    expect(tagItems.map((i) => i.title)).toEqual(["Payroll migration"]);
    const admin = await api(`/api/v1/sessions/search?q=payroll`, { headers: await userHeaders("root", "ADMIN") });
    expect(((await admin.json()) as { items: unknown[] }).items.length).toBe(3);
    const empty = await api(`/api/v1/sessions/search?q=`, { headers: await userHeaders("searcher") });
    expect(empty.status).toBe(400);
  });
});

describe("live status stream", { timeout: 30_000 }, () => {
  it("sends the status at once and on every change, to the owner only", async () => {
    const session = await createSession("watcher", "node-w");
    const refused = await api(`/api/v1/sessions/${session.id}/live`, {
      headers: { ...(await userHeaders("other")), Upgrade: "websocket" },
    });
    expect(refused.status).toBe(404);
    const plain = await api(`/api/v1/sessions/${session.id}/live`, { headers: await userHeaders("watcher") });
    expect(plain.status).toBe(426);
    const res = await api(`/api/v1/sessions/${session.id}/live`, { headers: { ...(await userHeaders("watcher")), Upgrade: "websocket" } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const messages: { type: string; state?: string; chunks?: { count: number } }[] = [];
    let notify = () => {};
    ws.addEventListener("message", (event) => {
      messages.push(JSON.parse(event.data as string));
      notify();
    });
    ws.accept();
    const next = async (count: number) => {
      while (messages.length < count) await new Promise<void>((resolve) => (notify = resolve));
      return messages[count - 1]!;
    };
    expect(await next(1)).toMatchObject({ type: "status", state: "created" });
    await api(`/api/v1/sessions/${session.id}/start`, { method: "POST", headers: await userHeaders("watcher") });
    expect(await next(2)).toMatchObject({ type: "status", state: "recording" });
    await putChunk(session.id, 0, chunkBytes(0), "node-w");
    expect(await next(3)).toMatchObject({ state: "recording", chunks: { count: 1 } });
    ws.send(JSON.stringify({ type: "ping" }));
    expect(await next(4)).toEqual({ type: "pong" });
    ws.close();
  });
});
