import { runInDurableObject } from "cloudflare:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterEach, describe, expect, it } from "vitest";
import { CHANNEL_PATH } from "../../shared/rdp/protocol.ts";
import { api, problemOf } from "./helpers.ts";
import { TestNode } from "./node-agent.ts";
import { TestRdpAgent } from "./rdp-agent.ts";
import {
  as,
  backdateAndAlarm,
  hostStatus,
  hostStub,
  onlineHost,
  requestDesktop,
  serverRow,
  until,
  type DesktopJson,
} from "./rdp-helpers.ts";

const open: TestRdpAgent[] = [];
const track = (agent: TestRdpAgent) => (open.push(agent), agent);
afterEach(() => {
  for (const agent of open.splice(0)) agent.close();
});

describe("agent channel: authentication", { timeout: 60_000 }, () => {
  it("needs the host's own, valid node credential and a WebSocket upgrade", async () => {
    const { node, agent } = await onlineHost("op-auth");
    track(agent);
    const other = new TestNode("op-auth-2");
    await other.register();
    const none = await api(CHANNEL_PATH(node.id), { headers: { Upgrade: "websocket" } });
    expect(none.status).toBe(401);
    const foreign = await api(CHANNEL_PATH(node.id), { headers: { "X-Node-Credential": other.credential, Upgrade: "websocket" } });
    expect((await problemOf(foreign)).status).toBe(403);
    const plain = await api(CHANNEL_PATH(node.id), { headers: { "X-Node-Credential": node.credential } });
    expect(plain.status).toBe(400);
    const revoke = await api(`/api/v1/nodes/${node.id}/credentials/${node.jti}`, {
      method: "DELETE",
      headers: await as("op-auth", "NODE_OPERATOR"),
    });
    expect(revoke.status).toBe(200);
    const revoked = await api(CHANNEL_PATH(node.id), { headers: { "X-Node-Credential": node.credential, Upgrade: "websocket" } });
    expect((await problemOf(revoked)).type).toBe("/problems/credential-revoked");
  });

  it("welcomes with a fresh channel id; a newer connection replaces the older one", async () => {
    const { node, agent } = await onlineHost("op-replace");
    const second = track(await TestRdpAgent.connect(node));
    expect(second.channel).not.toBe(agent.channel);
    expect((await agent.waitClosed()).code).toBe(4000);
    await until(async () => (await hostStatus(node.id)).connected);
  });

  it("refuses a forged frame (wrong key), closes the channel, and changes nothing", async () => {
    const { node, agent } = await onlineHost("op-forge");
    const { res } = await requestDesktop("forge-user", node.id);
    const desktop = (await res.json()) as DesktopJson;
    const start = await agent.command("server.start");
    // An attacker's key signs an ack for the real command.
    agent.send({ type: "ack", commandId: start.id, outcome: "done" }, ed25519.utils.randomSecretKey());
    const error = await agent.next("error");
    expect(error.code).toBe("invalid-signature");
    expect((await agent.waitClosed()).code).toBe(1008);
    expect((await serverRow(node.id, desktop.server.id))!.state).toBe("starting");
    // The real agent reconnects; the command is still pending and comes again.
    const again = track(await TestRdpAgent.connect(node));
    const replay = await again.command("server.start");
    expect(replay.id).toBe(start.id);
  });

  it("refuses replayed, out-of-channel and malformed frames", async () => {
    const { node, agent } = await onlineHost("op-replay");
    const { res } = await requestDesktop("replay-user", node.id);
    const desktop = (await res.json()) as DesktopJson;
    const start = await agent.command("server.start");
    const ack = agent.ack(start.id);
    await until(async () => (await serverRow(node.id, desktop.server.id))!.state === "running");
    agent.raw(ack);
    expect((await agent.next("error")).code).toBe("replayed-message");

    const second = track(await TestRdpAgent.connect(node));
    // A frame signed by the right key but carrying the old channel id.
    second.send({ type: "event", event: { kind: "connection", serverId: desktop.server.id, state: "connecting" }, channel: agent.channel });
    expect((await second.next("error")).code).toBe("wrong-channel");

    const third = track(await TestRdpAgent.connect(node));
    third.raw(JSON.stringify({ type: "event", nonsense: true }));
    expect((await third.next("error")).code).toBe("invalid-message");
    expect((await serverRow(node.id, desktop.server.id))!.connection).toBeNull();
  });

  it("wants hello before anything else", async () => {
    const node = new TestNode("op-hello");
    await node.register();
    const agent = track(await TestRdpAgent.connect(node, { hello: false }));
    agent.event({ kind: "connection", serverId: "rdp_x", state: "connecting" });
    expect((await agent.next("error")).code).toBe("hello-required");
    expect((await hostStatus(node.id)).connected).toBe(false);
  });
});

describe("agent channel: commands, acks, retries, replay", { timeout: 60_000 }, () => {
  it("replays a command lost in transit after the agent reconnects", async () => {
    const { node, agent } = await onlineHost("op-lost");
    const { res } = await requestDesktop("lost-user", node.id);
    const desktop = (await res.json()) as DesktopJson;
    const start = await agent.command("server.start");
    expect(start.attempt).toBe(1);
    // The frame is "lost": the agent drops the connection without acting on it.
    agent.close();
    await until(async () => !(await hostStatus(node.id)).connected);
    // While the agent is away, the user stops the desktop: queued, not sent.
    const reconnect = track(await TestRdpAgent.connect(node));
    const replayed = await reconnect.command("server.start");
    expect(replayed).toMatchObject({ id: start.id, seq: start.seq, attempt: 2 });
    expect(replayed.command).toEqual(start.command);
    reconnect.ack(replayed.id);
    // A duplicate ack (the agent re-acks) changes nothing.
    reconnect.ack(replayed.id);
    await until(async () => (await serverRow(node.id, desktop.server.id))!.state === "running");
    expect((await hostStatus(node.id)).pendingCommands).toBe(0);
  });

  it("queues commands while the agent is offline and delivers them after hello", async () => {
    const host = await onlineHost("op-offline");
    const { res } = await requestDesktop("offline-user", host.node.id);
    const desktop = (await res.json()) as DesktopJson;
    host.agent.ack((await host.agent.command("server.start")).id);
    await until(async () => (await serverRow(host.node.id, desktop.server.id))!.state === "running");
    host.agent.close();
    await until(async () => !(await hostStatus(host.node.id)).connected);
    const stop = await api(`/api/v1/rdp/hosts/${host.node.id}/servers/${desktop.server.id}/stop`, {
      method: "POST",
      headers: await as("offline-user"),
    });
    expect(stop.status).toBe(200);
    expect(((await stop.json()) as { state: string }).state).toBe("stopping");
    const back = track(await TestRdpAgent.connect(host.node));
    const command = await back.command("server.stop");
    expect(command.command).toMatchObject({ serverId: desktop.server.id, reason: "requested", destroy: false });
    back.ack(command.id);
    await until(async () => (await serverRow(host.node.id, desktop.server.id))!.state === "stopped");
    expect((await serverRow(host.node.id, desktop.server.id))!.port).toBeNull();
  });

  it("replays to an agent that asked for batches in commands frames, takes one signed acks frame, refuses it replayed", async () => {
    const host = await onlineHost("op-batches");
    const { res } = await requestDesktop("batches-user", host.node.id);
    const desktop = (await res.json()) as DesktopJson;
    host.agent.ack((await host.agent.command("server.start")).id);
    await until(async () => (await serverRow(host.node.id, desktop.server.id))!.state === "running");
    host.agent.close();
    await until(async () => !(await hostStatus(host.node.id)).connected);
    const path = `/api/v1/rdp/hosts/${host.node.id}/servers/${desktop.server.id}/notify`;
    for (let i = 0; i < 5; i++) {
      const notified = await api(path, {
        method: "POST",
        headers: await as("op-batches", "NODE_OPERATOR"),
        body: JSON.stringify({ level: "info", message: `batched ${i}` }),
      });
      expect(notified.status).toBe(200);
    }
    expect((await hostStatus(host.node.id)).pendingCommands).toBe(5);
    const back = track(await TestRdpAgent.connect(host.node, { batches: true }));
    const frame = await back.next("commands");
    expect(frame.commands.map((c) => c.command)).toEqual(
      Array.from({ length: 5 }, (_, i) => expect.objectContaining({ kind: "server.notify", message: `batched ${i}` })),
    );
    const seqs = frame.commands.map((c) => c.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(frame.commands.every((c) => c.attempt === 1)).toBe(true);
    const acks = back.send({ type: "acks", acks: frame.commands.map((c) => ({ commandId: c.id, outcome: "done" as const })) });
    await until(async () => (await hostStatus(host.node.id)).pendingCommands === 0);
    // The same signed frame again (same seq): refused as a replay and the channel closed, as for any frame.
    back.raw(acks);
    expect((await back.next("error")).code).toBe("replayed-message");
    await back.waitClosed();
  });

  it("retries an unacked command with back-off and gives up on an agent that never acks", async () => {
    const { node, agent } = track2(await onlineHost("op-silent"));
    const { res } = await requestDesktop("silent-user", node.id);
    const desktop = (await res.json()) as DesktopJson;
    const first = await agent.command("server.start");
    // Not due yet: the alarm sends nothing.
    await backdateAndAlarm(node.id, "UPDATE commands SET attempts = attempts");
    for (let attempt = 2; attempt <= 5; attempt++) {
      await backdateAndAlarm(node.id, "UPDATE commands SET next_attempt_at = 0 WHERE status = 'pending'");
      const retry = await agent.command("server.start");
      expect(retry).toMatchObject({ id: first.id, attempt });
    }
    expect((await serverRow(node.id, desktop.server.id))!.state).toBe("starting");
    await backdateAndAlarm(node.id, "UPDATE commands SET next_attempt_at = 0 WHERE status = 'pending'");
    const server = (await serverRow(node.id, desktop.server.id))!;
    expect(server).toMatchObject({ state: "failed", port: null, endReason: "agent-unresponsive" });
    expect((await hostStatus(node.id)).pendingCommands).toBe(0);
    // A late ack for the expired command changes nothing.
    agent.ack(first.id);
    await hostStatus(node.id);
    expect((await serverRow(node.id, desktop.server.id))!.state).toBe("failed");
  });

  it("reconciles after hello: strays are stopped, a lost server fails, a listening one runs", async () => {
    const { node, agent } = await onlineHost("op-reconcile");
    const first = await requestDesktop("rec-user", node.id);
    const running = (await first.res.json()) as DesktopJson;
    agent.ack((await agent.command("server.start")).id);
    await until(async () => (await serverRow(node.id, running.server.id))!.state === "running");
    const second = await requestDesktop("rec-user", node.id);
    const starting = (await second.res.json()) as DesktopJson;
    await agent.command("server.start");
    agent.close();
    await until(async () => !(await hostStatus(node.id)).connected);
    // The agent restarted: the running desktop is gone, the starting one came up, and it runs one nobody knows.
    const back = track(await TestRdpAgent.connect(node, { hello: false }));
    back.send({
      type: "hello",
      protocol: 1,
      agentVersion: "test-agent/2",
      servers: [
        { serverId: starting.server.id, state: "listening" },
        { serverId: "rdp_stray", state: "listening" },
      ],
    });
    const stray = await back.command("server.stop");
    expect(stray.command).toMatchObject({ serverId: "rdp_stray", reason: "unknown-to-host", destroy: true });
    expect(await serverRow(node.id, running.server.id)).toMatchObject({ state: "failed", port: null, endReason: "lost-on-host" });
    expect((await serverRow(node.id, starting.server.id))!.state).toBe("running");
  });

  it("closes a channel that stopped answering keep-alives", async () => {
    const { node, agent } = await onlineHost("op-keepalive");
    await backdateAndAlarm(node.id, "SELECT 1");
    expect(agent.closed).toBeNull();
    // The attachment's lastMessageAt is in memory of the socket: simulate silence by rewinding it.
    await runInDurableObject(hostStub(node.id), (_i, state) => {
      for (const ws of state.getWebSockets("agent"))
        ws.serializeAttachment({ ...(ws.deserializeAttachment() as object), lastMessageAt: 0 });
    });
    await backdateAndAlarm(node.id, "SELECT 1");
    expect((await agent.waitClosed()).code).toBe(1001);
  });
});

function track2<T extends { agent: TestRdpAgent }>(host: T): T {
  track(host.agent);
  return host;
}
