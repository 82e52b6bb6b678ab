import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env as workerEnv } from "cloudflare:workers";
import { afterEach, vi } from "vitest";
import type { Env } from "../../platform/env.ts";
import { api, tokenFor } from "./helpers.ts";
import { TestNode } from "./node-agent.ts";
import { TestRdpAgent } from "./rdp-agent.ts";
import { createSession } from "./session-helpers.ts";

export const env: Env = workerEnv;

export interface DesktopJson {
  server: {
    id: string;
    hostId: string;
    port: number | null;
    state: string;
    connection: string | null;
    ownerId: string;
    endReason: string | null;
    [k: string]: unknown;
  };
  host: string | null;
  port: number;
  username: string;
  password: string;
}

export async function as(userId: string, role: "USER" | "NODE_OPERATOR" | "ADMIN" = "USER") {
  return { Authorization: `Bearer ${await tokenFor(userId, role)}`, "Content-Type": "application/json" };
}

/** A registered node (operator `operatorId`) with its agent connected and said hello. */
export async function onlineHost(operatorId: string): Promise<{ node: TestNode; agent: TestRdpAgent }> {
  const node = new TestNode(operatorId);
  const res = await node.register();
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const agent = await TestRdpAgent.connect(node, { address: "pi.example" });
  // hello is processed before anything else the test sends through the Worker.
  await hostStatus(node.id);
  return { node, agent };
}

/**
 * A `host(operatorId)` whose agents are closed after each test (and `host.closeLater(agent)` for one
 * connected by hand); call once at a test file's top level.
 */
export function hostsClosedAfterEach() {
  const open: TestRdpAgent[] = [];
  afterEach(() => {
    for (const agent of open.splice(0)) agent.close();
  });
  const host = async (operatorId: string): Promise<{ node: TestNode; agent: TestRdpAgent }> => {
    const h = await onlineHost(operatorId);
    open.push(h.agent);
    return h;
  };
  return Object.assign(host, { closeLater: (agent: TestRdpAgent) => void open.push(agent) });
}

export async function hostStatus(hostId: string) {
  return runInDurableObject(hostStub(hostId), (instance) => instance.hostStatus());
}

export function hostStub(hostId: string) {
  return env.RDP_HOSTS.get(env.RDP_HOSTS.idFromName(hostId));
}

export async function requestDesktop(ownerId: string, hostId: string, extra: Record<string, unknown> = {}) {
  const session = await createSession(ownerId, hostId);
  const res = await api("/api/v1/rdp/desktops", {
    method: "POST",
    headers: await as(ownerId),
    body: JSON.stringify({ sessionId: session.id, ...extra }),
  });
  return { session, res };
}

/** A desktop whose start the agent acked: the server is running. */
export async function runningDesktop(ownerId: string, host: { node: TestNode; agent: TestRdpAgent }) {
  const { session, res } = await requestDesktop(ownerId, host.node.id);
  if (res.status !== 201) throw new Error(`desktop failed: ${res.status} ${await res.text()}`);
  const desktop = (await res.json()) as DesktopJson;
  const start = await host.agent.command("server.start");
  host.agent.ack(start.id);
  await until(async () => (await serverRow(host.node.id, desktop.server.id))?.state === "running");
  return { session, desktop };
}

export async function serverRow(hostId: string, serverId: string) {
  return runInDurableObject(hostStub(hostId), (instance) =>
    instance.getServer(serverId, { userId: "probe", role: "ADMIN", operatesHost: true }).then((o) => (o.ok ? o.value : null)),
  );
}

/** Waits for a condition (the agent's frames reach the DO asynchronously), with a generous time-out. */
export async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await check())) throw new Error("condition never held");
    },
    { timeout: timeoutMs, interval: 5 },
  );
}

/** Moves a column of the host's rows into the past, as if time had passed, then runs the alarm. */
export async function backdateAndAlarm(hostId: string, sql: string): Promise<void> {
  await runInDurableObject(hostStub(hostId), (_instance, state) => {
    state.storage.sql.exec(sql);
  });
  await runDurableObjectAlarm(hostStub(hostId));
}

export async function serverPath(hostId: string, serverId: string, suffix = "") {
  return `/api/v1/rdp/hosts/${hostId}/servers/${serverId}${suffix}`;
}
