import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, problemOf } from "./helpers.ts";
import {
  as,
  backdateAndAlarm,
  hostStub,
  hostsClosedAfterEach,
  requestDesktop,
  runningDesktop,
  serverPath,
  serverRow,
  until,
  type DesktopJson,
} from "./rdp-helpers.ts";
import { createSession, userHeaders } from "./session-helpers.ts";

const host = hostsClosedAfterEach();

const LIMITS = { cpuSharePercent: 25, memoryMb: 2048, diskMb: 4096, bandwidthKbps: 50000, sessionTtlSeconds: 28800 };

describe("desktops", { timeout: 60_000 }, () => {
  it("gives the session's owner host, port and one-time credentials; the agent gets the same start", async () => {
    const h = await host("op-desk");
    const { session, res } = await requestDesktop("desk-user", h.node.id, {
      resolution: { width: 1280, height: 720 },
      colourDepth: 16,
      backend: "xvnc",
    });
    expect(res.status).toBe(201);
    const desktop = (await res.json()) as DesktopJson;
    expect(desktop).toMatchObject({ host: "pi.example", port: 13389, username: "lucid13389" });
    expect(desktop.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(desktop.server).toMatchObject({ state: "starting", sessionId: session.id, ownerId: "desk-user", hostId: h.node.id });
    const start = await h.agent.command("server.start");
    expect(start.command).toEqual({
      kind: "server.start",
      serverId: desktop.server.id,
      sessionId: session.id,
      port: 13389,
      config: {
        resolution: { width: 1280, height: 720 },
        colourDepth: 16,
        backend: "xvnc",
        clipboard: false,
        audio: false,
        interaction: "metadata",
        user: "lucid13389",
      },
      limits: LIMITS,
      password: desktop.password,
    });
    // Another user's session is not found.
    const stranger = await api("/api/v1/rdp/desktops", {
      method: "POST",
      headers: await as("stranger"),
      body: JSON.stringify({ sessionId: session.id }),
    });
    expect(stranger.status).toBe(404);
    // Once acked, the password is not kept in the command queue.
    h.agent.ack(start.id);
    await until(async () => (await serverRow(h.node.id, desktop.server.id))!.state === "running");
    const stored = await runInDurableObject(hostStub(h.node.id), (_i, state) =>
      state.storage.sql.exec("SELECT body FROM commands").toArray(),
    );
    expect(JSON.stringify(stored)).not.toContain(desktop.password);
  });

  it("validates requests and refuses an offline host", async () => {
    const bad = await api("/api/v1/rdp/desktops", {
      method: "POST",
      headers: await as("v-user"),
      body: JSON.stringify({ sessionId: "x", colourDepth: 8 }),
    });
    expect((await problemOf(bad)).type).toBe("/problems/validation-failed");
    const anonymous = await api("/api/v1/rdp/desktops", { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);
    const h = await host("op-offline-desk");
    h.agent.close();
    await until(async () => !(await runInDurableObject(hostStub(h.node.id), (i) => i.hostStatus())).connected);
    const { res } = await requestDesktop("v-user", h.node.id);
    expect((await problemOf(res)).type).toBe("/problems/host-offline");
  });

  it("refuses the 1001st server: the pool holds 1000 (ports 13389–14388)", async () => {
    const h = await host("op-pool");
    const session = await createSession("pool-user", h.node.id);
    await runInDurableObject(hostStub(h.node.id), async (instance) => {
      for (let i = 0; i < 1000; i++) {
        const outcome = await instance.createDesktop({
          hostId: h.node.id,
          sessionId: session.id,
          ownerId: "pool-user",
          config: { resolution: { width: 1024, height: 768 }, colourDepth: 24, backend: "xorg" },
          limits: LIMITS,
        });
        if (!outcome.ok) throw new Error(`allocation ${i} refused: ${outcome.problem.detail}`);
        if (outcome.value!.port !== 13389 + i) throw new Error(`allocation ${i} got port ${outcome.value!.port}`);
      }
    });
    const res = await api("/api/v1/rdp/desktops", {
      method: "POST",
      headers: await as("pool-user"),
      body: JSON.stringify({ sessionId: session.id }),
    });
    const problem = await problemOf(res);
    expect(problem).toMatchObject({ status: 503, type: "/problems/rdp-pool-exhausted", maxServers: 1000 });
    const list = await api(`/api/v1/rdp/hosts/${h.node.id}/servers?live=true`, { headers: await as("op-pool", "NODE_OPERATOR") });
    expect(((await list.json()) as { servers: unknown[] }).servers).toHaveLength(1000);
  });

  it("releases a port once: a double release is refused and never frees another server's port", async () => {
    const h = await host("op-release");
    const a = await runningDesktop("rel-user", h);
    expect(a.desktop.port).toBe(13389);
    const path = await serverPath(h.node.id, a.desktop.server.id, "/release");
    const first = await api(path, { method: "POST", headers: await as("op-release", "NODE_OPERATOR") });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ state: "failed", port: null, endReason: "released" });
    const stop = await h.agent.command("server.stop");
    const second = await api(path, { method: "POST", headers: await as("op-release", "NODE_OPERATOR") });
    expect((await problemOf(second)).type).toBe("/problems/port-not-allocated");
    // The freed port goes to the next desktop; the agent's late ack for the old stop leaves it alone.
    const b = await runningDesktop("rel-user-2", h);
    expect(b.desktop.port).toBe(13389);
    h.agent.ack(stop.id);
    h.agent.event({ kind: "server", serverId: a.desktop.server.id, state: "stopped" });
    await until(async () => (await runInDurableObject(hostStub(h.node.id), (i) => i.hostStatus())).pendingCommands === 0);
    expect(await serverRow(h.node.id, b.desktop.server.id)).toMatchObject({ state: "running", port: 13389 });
    // The owner may not release; a stranger does not even see the server.
    const owner = await api(await serverPath(h.node.id, b.desktop.server.id, "/release"), {
      method: "POST",
      headers: await as("rel-user-2"),
    });
    expect(owner.status).toBe(403);
  });

  it("reclaims a leaked allocation when the start lease runs out", async () => {
    const h = await host("op-lease");
    const { res } = await requestDesktop("lease-user", h.node.id);
    const desktop = (await res.json()) as DesktopJson;
    await h.agent.command("server.start");
    await backdateAndAlarm(h.node.id, "UPDATE servers SET lease_expires_at = 0");
    expect(await serverRow(h.node.id, desktop.server.id)).toMatchObject({ state: "failed", port: null, endReason: "start-timeout" });
    const stop = await h.agent.command("server.stop");
    expect(stop.command).toMatchObject({ serverId: desktop.server.id, destroy: true });
  });
});

describe("controller: connection states, expiry, ownership", { timeout: 60_000 }, () => {
  it("drives connection states from agent events into the session's live status stream", async () => {
    const h = await host("op-live");
    const { session, desktop } = await runningDesktop("live-user", h);
    const res = await api(`/api/v1/sessions/${session.id}/live`, {
      headers: { ...(await userHeaders("live-user")), Upgrade: "websocket" },
    });
    const ws = res.webSocket!;
    const messages: { type: string; connection?: string | null; server?: string; reason?: string | null }[] = [];
    let wake = () => {};
    ws.addEventListener("message", (event) => {
      messages.push(JSON.parse(event.data as string));
      wake();
    });
    ws.accept();
    const rdp = async (count: number) => {
      while (messages.filter((m) => m.type === "rdp").length < count) await new Promise<void>((resolve) => (wake = resolve));
      return messages.filter((m) => m.type === "rdp")[count - 1]!;
    };
    for (const state of ["connecting", "connected", "active", "idle", "active"] as const) {
      h.agent.event({ kind: "connection", serverId: desktop.server.id, state });
    }
    // An impossible jump (active → connecting) is ignored.
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "connecting" });
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "disconnected" });
    expect(await rdp(6)).toMatchObject({ server: "running", connection: "disconnected" });
    expect(messages.filter((m) => m.type === "rdp").map((m) => m.connection)).toEqual([
      "connecting",
      "connected",
      "active",
      "idle",
      "active",
      "disconnected",
    ]);
    const stop = await api(await serverPath(h.node.id, desktop.server.id, "/stop"), { method: "POST", headers: await as("live-user") });
    expect(stop.status).toBe(200);
    expect(await rdp(7)).toMatchObject({ server: "stopping", connection: "terminated", reason: "requested" });
    h.agent.ack((await h.agent.command("server.stop")).id);
    expect(await rdp(8)).toMatchObject({ server: "stopped", connection: "terminated" });
    ws.close();
  });

  it("terminates an idle desktop by alarm", async () => {
    const h = await host("op-idle");
    const { desktop } = await runningDesktop("idle-user", h);
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "connecting" });
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "connected" });
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "active" });
    await until(async () => (await serverRow(h.node.id, desktop.server.id))!.connection === "active");
    // Active: an old idle mark does not count.
    await backdateAndAlarm(h.node.id, "UPDATE servers SET idle_since = NULL");
    expect((await serverRow(h.node.id, desktop.server.id))!.state).toBe("running");
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "idle" });
    await until(async () => (await serverRow(h.node.id, desktop.server.id))!.connection === "idle");
    await backdateAndAlarm(h.node.id, "UPDATE servers SET idle_since = idle_since - 1801000");
    expect(await serverRow(h.node.id, desktop.server.id)).toMatchObject({
      state: "stopping",
      connection: "terminated",
      endReason: "idle-timeout",
    });
    const stop = await h.agent.command("server.stop");
    expect(stop.command).toMatchObject({ reason: "idle-timeout" });
    h.agent.ack(stop.id);
    await until(async () => (await serverRow(h.node.id, desktop.server.id))!.state === "stopped");
  });

  it("terminates a desktop at its maximum session time by alarm", async () => {
    const h = await host("op-ttl");
    const { desktop } = await runningDesktop("ttl-user", h);
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "connecting" });
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "connected" });
    h.agent.event({ kind: "connection", serverId: desktop.server.id, state: "active" });
    await until(async () => (await serverRow(h.node.id, desktop.server.id))!.connection === "active");
    await backdateAndAlarm(h.node.id, "UPDATE servers SET expires_at = 1");
    expect(await serverRow(h.node.id, desktop.server.id)).toMatchObject({ state: "stopping", endReason: "ttl-expired" });
    expect((await h.agent.command("server.stop")).command).toMatchObject({ reason: "ttl-expired" });
  });

  it("lets only the owner (or an admin) transfer; the old password is replaced", async () => {
    const h = await host("op-transfer");
    const { desktop } = await runningDesktop("owner-1", h);
    const path = await serverPath(h.node.id, desktop.server.id, "/transfer");
    const body = JSON.stringify({ toUserId: "thief" });
    const stranger = await api(path, { method: "POST", headers: await as("thief"), body });
    expect((await problemOf(stranger)).status).toBe(404);
    const operator = await api(path, { method: "POST", headers: await as("op-transfer", "NODE_OPERATOR"), body });
    expect((await problemOf(operator)).status).toBe(403);
    expect((await serverRow(h.node.id, desktop.server.id))!.ownerId).toBe("owner-1");
    const ok = await api(path, { method: "POST", headers: await as("owner-1"), body: JSON.stringify({ toUserId: "owner-2" }) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ownerId: "owner-2" });
    const rotate = await h.agent.command("server.credentials");
    expect(rotate.command).toMatchObject({ serverId: desktop.server.id });
    expect((rotate.command as { password: string }).password).not.toBe(desktop.password);
    // The old owner is now a stranger; the new one gets fresh credentials.
    const back = await api(path, { method: "POST", headers: await as("owner-1"), body: JSON.stringify({ toUserId: "owner-1" }) });
    expect(back.status).toBe(404);
    const creds = await api(await serverPath(h.node.id, desktop.server.id, "/connect"), { method: "POST", headers: await as("owner-2") });
    expect(creds.status).toBe(200);
    const fresh = (await creds.json()) as DesktopJson;
    expect(fresh).toMatchObject({ port: desktop.port, username: desktop.username });
    expect(((await h.agent.command("server.credentials")).command as { password: string }).password).toBe(fresh.password);
  });

  it("migrates a desktop to another host (owner only) and stops the old one", async () => {
    const a = await host("op-mig-a");
    const b = await host("op-mig-b");
    const { desktop } = await runningDesktop("mig-user", a);
    const path = await serverPath(a.node.id, desktop.server.id, "/migrate");
    const refused = await api(path, {
      method: "POST",
      headers: await as("op-mig-a", "NODE_OPERATOR"),
      body: JSON.stringify({ toHostId: b.node.id }),
    });
    expect(refused.status).toBe(403);
    const res = await api(path, { method: "POST", headers: await as("mig-user"), body: JSON.stringify({ toHostId: b.node.id }) });
    expect(res.status).toBe(201);
    const moved = (await res.json()) as DesktopJson;
    expect(moved.server).toMatchObject({ hostId: b.node.id, ownerId: "mig-user", state: "starting", sessionId: desktop.server.sessionId });
    expect((await b.agent.command("server.start")).command).toMatchObject({ serverId: moved.server.id });
    expect((await a.agent.command("server.stop")).command).toMatchObject({
      serverId: desktop.server.id,
      reason: "migrated",
      destroy: true,
    });
    expect(await serverRow(a.node.id, desktop.server.id)).toMatchObject({ state: "stopping", migratedTo: b.node.id });
  });
});

describe("monitor: limits, alerts, metrics", { timeout: 60_000 }, () => {
  it("warns, then terminates a server that keeps exceeding its memory limit; admins see alerts and metrics", async () => {
    const h = await host("op-mon");
    const { desktop } = await runningDesktop("mon-user", h);
    const report = (memoryMb: number) => ({
      kind: "resources" as const,
      serverId: desktop.server.id,
      cpuPercent: 10,
      memoryMb,
      diskMb: 100,
      rxKbps: 800,
      txKbps: 200,
    });
    h.agent.event(report(512));
    h.agent.event(report(4096));
    const warning = await h.agent.command("server.notify");
    expect(warning.command).toMatchObject({ level: "warning" });
    h.agent.ack(warning.id);
    h.agent.event(report(4096));
    h.agent.event(report(4096));
    const stop = await h.agent.command("server.stop");
    expect(stop.command).toMatchObject({ reason: "limit-exceeded" });
    expect(await serverRow(h.node.id, desktop.server.id)).toMatchObject({ state: "stopping", strikes: 3, lastReport: { memoryMb: 4096 } });

    const alerts = await api("/api/v1/rdp/alerts", { headers: await as("admin-1", "ADMIN") });
    const list = ((await alerts.json()) as { alerts: { level: string; metric: string; serverId: string }[] }).alerts;
    expect(list.map((a) => a.level)).toEqual(["critical", "warning"]);
    expect(list.every((a) => a.metric === "memory" && a.serverId === desktop.server.id)).toBe(true);
    expect((await api("/api/v1/rdp/alerts", { headers: await as("mon-user") })).status).toBe(403);

    let metrics = "";
    // The host flushes its counters to SystemDO right after the frame that terminated the server.
    await until(async () => {
      metrics = await (await api("/api/v1/system/metrics", { headers: await as("admin-1", "ADMIN") })).text();
      return metrics.includes('lucid_rdp_terminations_total{reason="limit-exceeded"} 1');
    });
    expect(metrics).toMatch(/lucid_rdp_resource_reports_total \d+/);
    expect(metrics).toContain("# TYPE lucid_rdp_alerts_total counter");
  });

  it("lists servers to operators and admins only, and reports the rdp function healthy", async () => {
    const h = await host("op-list");
    await runningDesktop("list-user", h);
    expect((await api("/api/v1/rdp/servers", { headers: await as("list-user") })).status).toBe(403);
    const mine = await api("/api/v1/rdp/servers", { headers: await as("op-list", "NODE_OPERATOR") });
    expect(((await mine.json()) as { servers: unknown[] }).servers).toHaveLength(1);
    const hostView = await api(`/api/v1/rdp/hosts/${h.node.id}`, { headers: await as("other-op", "NODE_OPERATOR") });
    expect(hostView.status).toBe(404);
    const status = await api(`/api/v1/rdp/hosts/${h.node.id}`, { headers: await as("admin-2", "ADMIN") });
    expect(await status.json()).toMatchObject({ connected: true, address: "pi.example", agentVersion: "test-agent/1", serversLive: 1 });
    const services = await api("/api/v1/system/services/rdp", { headers: await as("admin-2", "ADMIN") });
    if (services.status === 200) expect(await services.json()).toMatchObject({ status: "up" });
  });
});
