import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, adminSend, steppedUpAdmin } from "./admin-helpers.ts";
import { getAuthed, postJson } from "./auth-helpers.ts";
import { api, problemOf, tokenFor } from "./helpers.ts";
import { chunkBytes, createSession, nodeIdOf, putChunk, recordingSession, testNode } from "./session-helpers.ts";

const auditDO = () => env.AUDIT.get(env.AUDIT.idFromName("audit"));

/** Created once per file: each TOTP step and recovery code is single use. */
let admin: ReturnType<typeof steppedUpAdmin> | undefined;
const theAdmin = () => (admin ??= steppedUpAdmin());

async function lockdown(active: boolean, factor: Record<string, string>, token: string) {
  return adminSend(
    "POST",
    "/api/v1/admin/emergency/lockdown",
    { active, reason: active ? "incident 42: suspected key leak" : "incident 42 closed", ...factor },
    token,
  );
}

describe("emergency controls", () => {
  it("need ADMIN+ and a second factor; a wrong code is refused and audited", async () => {
    const body = { active: true, reason: "drill", totpCode: "123456" };
    expect((await adminSend("POST", "/api/v1/admin/emergency/lockdown", body)).status).toBe(401);
    for (const role of ["USER", "NODE_OPERATOR"] as const) {
      const res = await adminSend("POST", "/api/v1/admin/emergency/lockdown", body, await tokenFor(crypto.randomUUID(), role));
      expect((await problemOf(res)).type).toBe("/problems/forbidden");
    }
    // An ADMIN token that no login session stands behind (no TOTP ever passed) cannot use emergency controls.
    const bare = await problemOf(
      await adminSend("POST", "/api/v1/admin/emergency/lockdown", body, await tokenFor(crypto.randomUUID(), "ADMIN")),
    );
    expect(bare).toMatchObject({ status: 401, type: "/problems/unauthorized" });
    const a = await theAdmin();
    // No factor, both factors, a malformed code, unknown fields, missing reason: 400, nothing changes.
    for (const bad of [
      { active: true, reason: "drill" },
      { active: true, reason: "drill", totpCode: "123456", recoveryCode: "AAAA-BBBB-CCCC-DDDD" },
      { active: true, reason: "drill", totpCode: "12345" },
      { active: true, reason: "drill", totpCode: "123456", extra: 1 },
      { active: "yes", reason: "drill", totpCode: "123456" },
      { active: true, totpCode: "123456" },
    ]) {
      expect((await problemOf(await adminSend("POST", "/api/v1/admin/emergency/lockdown", bad, a.token))).type, JSON.stringify(bad)).toBe(
        "/problems/validation-failed",
      );
    }
    const wrong = await problemOf(await lockdown(true, { totpCode: "000000" }, a.token));
    expect(wrong.type).toBe("/problems/second-factor-required");
    const state = await (await adminGet("/api/v1/admin/emergency", a.token)).json<{ lockdown: { active: boolean } }>();
    expect(state.lockdown.active).toBe(false);
    const failures = await auditDO().list({ limit: 10, action: "emergency.lockdown", outcome: "failure" });
    expect(failures.some((e) => e.actorId === a.id && e.details.reason === "bad-second-factor")).toBe(true);
  });

  it("lockdown: non-admin writes get 503, reads continue, admins keep writing, lifting restores; both audited with before/after", async () => {
    const a = await theAdmin();
    const nodeX = await nodeIdOf("node-x"); // registered before the lockdown, which refuses registrations
    const userToken = await tokenFor(crypto.randomUUID(), "USER");
    const on = await lockdown(true, a.totp(), a.token);
    expect(on.status).toBe(200);
    expect((await on.json<{ lockdown: { active: boolean; changedBy: string } }>()).lockdown).toMatchObject({
      active: true,
      changedBy: a.id,
    });

    // A user's write (create a session) and a node's write (heartbeat) are refused with an explanation.
    const refused = await api("/api/v1/sessions", {
      method: "POST",
      headers: { Authorization: `Bearer ${userToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ nodeId: nodeX, title: "t" }),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("Retry-After")).toBe("60");
    const problem = await problemOf(refused);
    expect(problem).toMatchObject({ type: "/problems/lockdown", reason: "incident 42: suspected key leak" });
    expect(problem.detail).toMatch(/lockdown/i);
    const anonymousWrite = await postJson("/api/v1/nodes", { anything: true });
    expect((await problemOf(anonymousWrite)).type).toBe("/problems/lockdown");
    // Reads continue.
    expect((await api("/api/v1/sessions", { headers: { Authorization: `Bearer ${userToken}` } })).status).toBe(200);
    expect((await api("/health")).status).toBe(200);
    // Logging in stays open (an admin must be able to get in to lift it).
    expect((await postJson("/api/v1/auth/challenge", { address: "TDvSsdrNM5eeXNL3czpa6AxLDHZA9nwe9K" })).status).toBe(200);
    // An admin still writes.
    const adminWrite = await adminSend(
      "PUT",
      "/api/v1/admin/config",
      {
        config: { lockdownMessage: "Locked for incident 42.", healthAlertAfterFailures: 2, notificationHistory: 200 },
        expectedVersion: 0,
        reason: "tell users why",
      },
      a.token,
    );
    expect(adminWrite.status).toBe(200);
    // The configured message is what users now read.
    expect((await problemOf(await postJson("/api/v1/nodes", {}, { token: userToken }))).detail).toBe("Locked for incident 42.");

    const off = await lockdown(false, a.recovery(), a.token);
    expect(off.status).toBe(200);
    const after = await api("/api/v1/sessions", {
      method: "POST",
      headers: { Authorization: `Bearer ${userToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ nodeId: nodeX, title: "t" }),
    });
    expect(after.status).toBe(201);

    const events = await auditDO().list({ limit: 10, action: "emergency.lockdown", outcome: "success" });
    const [lift, lock] = events;
    expect(lock).toMatchObject({ actorId: a.id, targetId: "lockdown" });
    expect(JSON.parse(lock!.before!)).toMatchObject({ active: false });
    expect(JSON.parse(lock!.after!)).toMatchObject({ active: true, reason: "incident 42: suspected key leak" });
    expect(JSON.parse(lift!.before!)).toMatchObject({ active: true });
    expect(JSON.parse(lift!.after!)).toMatchObject({ active: false });
    expect(lock!.requestId).toMatch(/.+/);
  });

  it("shutdown of new sessions refuses creating one (even for admins) until lifted; existing sessions go on", async () => {
    const a = await theAdmin();
    const owner = crypto.randomUUID();
    const existing = await recordingSession(owner, "node-shut");
    const shutNode = await nodeIdOf("node-shut");
    expect(
      (
        await adminSend(
          "POST",
          "/api/v1/admin/emergency/sessions-shutdown",
          { active: true, reason: "storage migration", ...a.recovery() },
          a.token,
        )
      ).status,
    ).toBe(200);
    const refused = await problemOf(
      await api("/api/v1/sessions", {
        method: "POST",
        headers: { Authorization: `Bearer ${await tokenFor(owner)}`, "Content-Type": "application/json" },
        body: JSON.stringify({ nodeId: shutNode, title: "t" }),
      }),
    );
    expect(refused).toMatchObject({ status: 503, type: "/problems/sessions-shutdown", reason: "storage migration" });
    expect((await problemOf(await adminSend("POST", "/api/v1/sessions", { nodeId: shutNode, title: "t" }, a.token))).type).toBe(
      "/problems/sessions-shutdown",
    );
    expect((await putChunk(existing.id, 0, chunkBytes(0), "node-shut")).status).toBe(201);
    expect(
      (await adminSend("POST", "/api/v1/admin/emergency/sessions-shutdown", { active: false, reason: "done", ...a.recovery() }, a.token))
        .status,
    ).toBe(200);
    await createSession(owner, "node-shut");
  });

  it("halting recordings refuses starts and chunk uploads, can stop every recording session, and resumes", async () => {
    const a = await theAdmin();
    const owner = crypto.randomUUID();
    const recording = await recordingSession(owner, "node-rec");
    expect((await putChunk(recording.id, 0, chunkBytes(0), "node-rec")).status).toBe(201);
    const waiting = await createSession(owner, "node-rec");
    const halted = await adminSend(
      "POST",
      "/api/v1/admin/emergency/recordings",
      { active: true, reason: "disk failing", stopActive: true, ...a.recovery() },
      a.token,
    );
    expect(halted.status).toBe(200);
    const body = await halted.json<{ recordings_halted: { active: boolean }; stopped: { sessionId: string; outcome: string }[] }>();
    expect(body.recordings_halted.active).toBe(true);
    expect(body.stopped).toContainEqual({ sessionId: recording.id, outcome: "processing" });
    const start = await api(`/api/v1/sessions/${waiting.id}/start`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokenFor(owner)}` },
    });
    expect((await problemOf(start)).type).toBe("/problems/recordings-halted");
    expect((await problemOf(await putChunk(waiting.id, 0, chunkBytes(0), "node-rec"))).type).toBe("/problems/recordings-halted");
    expect(
      (await adminSend("POST", "/api/v1/admin/emergency/recordings", { active: false, reason: "disk replaced", ...a.recovery() }, a.token))
        .status,
    ).toBe(200);
    expect(
      (await api(`/api/v1/sessions/${waiting.id}/start`, { method: "POST", headers: { Authorization: `Bearer ${await tokenFor(owner)}` } }))
        .status,
    ).toBe(200);
    const stopped = await auditDO().list({ limit: 5, action: "emergency.recordings_stopped" });
    expect(stopped[0]!.details.sessions).toContain(`${recording.id}:processing`);
  });

  it("broadcasts notifications to connected clients and agents, lists them, and retracts them", async () => {
    const a = await theAdmin();
    const userToken = await tokenFor(crypto.randomUUID(), "USER");
    const socketRes = await api("/api/v1/notifications/live", { headers: { Authorization: `Bearer ${userToken}`, Upgrade: "websocket" } });
    expect(socketRes.status).toBe(101);
    const ws = socketRes.webSocket!;
    ws.accept();
    const messages: { type: string; title?: string; id?: number }[] = [];
    const waiters: { n: number; resolve: () => void }[] = [];
    ws.addEventListener("message", (event) => {
      messages.push(JSON.parse(event.data as string));
      for (const w of waiters.filter((w) => messages.length >= w.n)) w.resolve();
    });
    const arrived = (n: number) => new Promise<void>((resolve) => (messages.length >= n ? resolve() : waiters.push({ n, resolve })));
    const hello = arrived(1);
    await hello;
    expect(messages[0]).toMatchObject({ type: "hello", listener: "client" });

    const forAgents = await adminSend(
      "POST",
      "/api/v1/admin/emergency/notifications",
      { audience: "agents", severity: "warning", title: "Agents only", body: "update tonight", ...a.recovery() },
      a.token,
    );
    expect(forAgents.status).toBe(201);
    const next = arrived(2);
    const sent = await adminSend(
      "POST",
      "/api/v1/admin/emergency/notifications",
      { audience: "clients", severity: "critical", title: "Maintenance at 23:00", body: "Save your work.", ...a.recovery() },
      a.token,
    );
    expect(sent.status).toBe(201);
    const notification = await sent.json<{ id: number }>();
    await next;
    // The client socket got the clients' notification, not the agents' one.
    expect(messages[1]).toMatchObject({ type: "notification", title: "Maintenance at 23:00", id: notification.id });

    const listed = await getAuthed("/api/v1/notifications", userToken);
    const titles = (await listed.json<{ items: { title: string }[] }>()).items.map((i) => i.title);
    expect(titles).toContain("Maintenance at 23:00");
    expect(titles).not.toContain("Agents only");

    const agentView = await api("/api/v1/notifications", {
      headers: { Authorization: `Bearer ${(await testNode("node-listening")).credential}` },
    });
    const agentTitles = (await agentView.json<{ items: { title: string }[] }>()).items.map((i) => i.title);
    expect(agentTitles).toContain("Agents only");
    expect(agentTitles).not.toContain("Maintenance at 23:00");

    const retracted = arrived(3);
    const res = await adminSend("POST", `/api/v1/admin/emergency/notifications/${notification.id}/retract`, a.recovery(), a.token);
    expect(res.status).toBe(200);
    await retracted;
    expect(messages[2]).toMatchObject({ type: "retraction", id: notification.id });
    const again = await getAuthed("/api/v1/notifications", userToken);
    expect((await again.json<{ items: { id: number }[] }>()).items.map((i) => i.id)).not.toContain(notification.id);
    expect(
      (await problemOf(await adminSend("POST", `/api/v1/admin/emergency/notifications/${notification.id}/retract`, a.recovery(), a.token)))
        .status,
    ).toBe(409);
    ws.close();

    // Browsers offer the token as a subprotocol; the server picks `lucid`.
    const browser = await api("/api/v1/notifications/live", {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `lucid, lucid.bearer.${userToken}` },
    });
    expect(browser.status).toBe(101);
    expect(browser.headers.get("Sec-WebSocket-Protocol")).toBe("lucid");
    browser.webSocket!.accept();
    browser.webSocket!.close();
    const forged = await api("/api/v1/notifications/live", {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "lucid, lucid.bearer.a.b.c" },
    });
    expect(forged.status).toBe(401);
    expect((await api("/api/v1/notifications")).status).toBe(401);
    expect((await problemOf(await getAuthed("/api/v1/notifications/live", userToken))).type).toBe("/problems/upgrade-required");
  });
});
