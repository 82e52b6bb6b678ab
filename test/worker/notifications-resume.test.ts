// Resuming the notification stream (GET /api/v1/notifications/live?after=<id>): what the Pi agent
// relies on to miss nothing and see nothing twice across reconnects. Every frame is checked with the
// shared schema the agent uses.
import { describe, expect, it } from "vitest";
import { notificationStreamSchema, type NotificationStreamMessage } from "../../shared/admin.ts";
import { adminSend, steppedUpAdmin } from "./admin-helpers.ts";
import { api, problemOf } from "./helpers.ts";
import { testNode } from "./session-helpers.ts";

let admin: ReturnType<typeof steppedUpAdmin> | undefined;
const theAdmin = () => (admin ??= steppedUpAdmin());

async function listen(query: string) {
  const res = await api(`/api/v1/notifications/live${query}`, {
    headers: { "X-Node-Credential": (await testNode("node-resume")).credential, Upgrade: "websocket" },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const frames: NotificationStreamMessage[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  ws.addEventListener("message", (event) => {
    frames.push(notificationStreamSchema.parse(JSON.parse(event.data as string)));
    for (const w of waiters.filter((w) => frames.length >= w.n)) w.resolve();
  });
  ws.accept();
  const arrived = (n: number) => new Promise<void>((resolve) => (frames.length >= n ? resolve() : waiters.push({ n, resolve })));
  return { ws, frames, arrived };
}

async function broadcast(audience: string, title: string) {
  const a = await theAdmin();
  const res = await adminSend(
    "POST",
    "/api/v1/admin/emergency/notifications",
    { audience, severity: "info", title, body: `${title} body`, ...a.recovery() },
    a.token,
  );
  expect(res.status).toBe(201);
  return (await res.json<{ id: number }>()).id;
}

describe("notification stream resume", () => {
  it("replays every notification for agents after `after`, in order, right after the hello; then live ones follow", async () => {
    const first = await broadcast("agents", "one");
    const clientsOnly = await broadcast("clients", "not for agents");
    const second = await broadcast("all", "two");
    const third = await broadcast("agents", "three");

    const resumed = await listen(`?after=${first}`);
    await resumed.arrived(3);
    const [hello, ...replayed] = resumed.frames;
    expect(hello).toMatchObject({ type: "hello", listener: "agent", recent: [], resumedAfter: first, lastId: third });
    expect(replayed.map((f) => (f.type === "notification" ? f.id : -1))).toEqual([second, third]);
    expect(replayed.map((f) => f.type === "notification" && f.id)).not.toContain(clientsOnly);

    const fourth = await broadcast("agents", "four");
    await resumed.arrived(4);
    expect(resumed.frames[3]).toMatchObject({ type: "notification", id: fourth, title: "four" });
    resumed.ws.close();

    // A retraction sent while a listener was away is in its next hello (only ids at or before its cursor, its audience only).
    const a = await theAdmin();
    for (const id of [second, clientsOnly]) {
      expect((await adminSend("POST", `/api/v1/admin/emergency/notifications/${id}/retract`, a.recovery(), a.token)).status).toBe(200);
    }
    const back = await listen(`?after=${fourth}`);
    await back.arrived(1);
    expect(back.frames[0]).toMatchObject({ type: "hello", resumedAfter: fourth, retracted: [second] });
    back.ws.close();
    const early = await listen(`?after=${first}`);
    await early.arrived(3);
    expect(early.frames[0]).toMatchObject({ type: "hello", retracted: [] });
    expect(early.frames.slice(1).map((f) => f.type === "notification" && f.id)).toEqual([third, fourth]); // the retracted one is not replayed
    early.ws.close();

    // Without `after`: the newest notifications in `recent`, nothing replayed.
    const fresh = await listen("");
    await fresh.arrived(1);
    expect(fresh.frames[0]).toMatchObject({ type: "hello", resumedAfter: null, lastId: fourth, retracted: [] });
    const recent = fresh.frames[0]!.type === "hello" ? fresh.frames[0]!.recent.map((n) => n.id) : [];
    expect(recent.slice(-2)).toEqual([third, fourth]);
    fresh.ws.close();
  });

  it("an emergency change names the control and its new state", async () => {
    const a = await theAdmin();
    const live = await listen(`?after=${Number.MAX_SAFE_INTEGER}`);
    await live.arrived(1);
    expect(
      (await adminSend("POST", "/api/v1/admin/emergency/lockdown", { active: true, reason: "drill", ...a.recovery() }, a.token)).status,
    ).toBe(200);
    await live.arrived(2);
    expect(live.frames[1]).toMatchObject({ type: "emergency", id: 0, control: "lockdown", active: true, body: "drill" });
    expect(
      (await adminSend("POST", "/api/v1/admin/emergency/lockdown", { active: false, reason: "drill over", ...a.recovery() }, a.token))
        .status,
    ).toBe(200);
    await live.arrived(3);
    expect(live.frames[2]).toMatchObject({ type: "emergency", control: "lockdown", active: false });
    live.ws.close();
  });

  it("a bad `after` or an unknown parameter is a 400 problem", async () => {
    const credential = (await testNode("node-resume")).credential;
    for (const query of ["?after=-1", "?after=abc", "?after=1.5", "?since=3"]) {
      const res = await api(`/api/v1/notifications/live${query}`, { headers: { "X-Node-Credential": credential, Upgrade: "websocket" } });
      expect((await problemOf(res)).type, query).toBe("/problems/validation-failed");
    }
  });
});
