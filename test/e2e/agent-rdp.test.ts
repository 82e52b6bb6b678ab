// The whole desktop path on real components: workerd (nodes, sessions, RdpHostDO), `lucid-agent
// run` holding the agent channel, real xrdp + xorgxrdp started on the control plane's command, a
// real xfreerdp client, and the session's recording uploaded under the session's own data key.
// Root only (the agent creates the session user); xrdp's single sesman makes it exclusive with
// test/node/agent-xrdp.test.ts, which runs in the later `agent` group.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, ROOT, startWorkerd, waitForHttp, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { lookupUser, removeUser } from "../../pi-agent/lib/xrdp/users.ts";
import { until as untilHolds } from "../node/helpers/until.ts";
import { startXvfb, type Xvfb } from "../node/helpers/xvfb.ts";
import { enrolAgent } from "./helpers/agent-process.ts";
import { killProcessTrees, startRdpWorkerd } from "./helpers/rdp-host.ts";

const BIN = join(ROOT, "pi-agent/bin/lucid-agent.ts");
const work = mkdtempSync(join(tmpdir(), "lucid-agent-rdp-"));
const stateDir = join(work, "state");
const secrets = randomSecrets();
const OPERATOR = "op-rdp-e2e";
const OWNER = "user-rdp-e2e";
let base = "";
let rdpPort = 0;
let workerd: WorkerdProcess | undefined;
let configPath = "";
const children: ChildProcess[] = [];
let agentOutput = "";
let agent: ChildProcess | undefined;
let sessionUser = "";
let xvfb: Xvfb | undefined;

async function token(sub: string, role: "NODE_OPERATOR" | "USER") {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub, role, iat: now, exp: now + 900 }, secrets.JWT_SECRET_KEY, "HS256");
}

async function call(sub: string, role: "NODE_OPERATOR" | "USER", method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${await token(sub, role)}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json().catch(() => null)) as any };
}

/** Waits for a condition, printing the agent's output when it does not come. */
function until<T>(what: string, probe: () => Promise<T>, timeoutMs = 45_000, intervalMs = 250) {
  return untilHolds(what, probe, { timeoutMs, intervalMs, detail: () => `agent:\n${agentOutput.slice(-4000)}` });
}

function run(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

// Needs root (it creates the session user) and xrdp: scripts/system-tools.ts leaves it out where they are missing.
beforeAll(async () => {
  // One allocatable RDP port (a free one), quick reports, a small test machine.
  rdpPort = await freePort();
  ({ base, configPath, workerd } = await startRdpWorkerd(work, secrets, [rdpPort, rdpPort], 1));
}, 120_000);

afterAll(async () => {
  // The agent's own children too (xrdp, sesman).
  killProcessTrees(children);
  await xvfb?.stop();
  await workerd?.stop();
  const user = sessionUser ? lookupUser(sessionUser) : null;
  if (user?.createdByAgent) removeUser(user);
  rmSync(work, { recursive: true, force: true });
});

describe("a desktop served by the agent on the control plane's command", () => {
  let nodeId = "";
  let sessionId = "";
  let serverId = "";

  it("enrols, runs, and holds the agent channel", async () => {
    nodeId = await enrolAgent({ server: base, operatorToken: await token(OPERATOR, "NODE_OPERATOR"), stateDir, work, children });

    agent = run([
      "run",
      "--state",
      stateDir,
      "--listen",
      "127.0.0.1",
      "--public-address",
      "127.0.0.1",
      "--desktop",
      "xterm -geometry 40x10+0+0",
      "--display-offset",
      "180",
      "--idle-seconds",
      "3",
      "--heartbeat-seconds",
      "5",
    ]);
    agent.stderr!.on("data", (d) => (agentOutput += d));
    await until("channel", async () => /control channel connected/.test(agentOutput));
    const host = await call(OPERATOR, "NODE_OPERATOR", "GET", `/api/v1/rdp/hosts/${nodeId}`);
    expect(host.json).toMatchObject({ hostId: nodeId, connected: true, address: "127.0.0.1", agentVersion: "lucid-agent/0.1.0" });
  }, 90_000);

  it("starts xrdp for a desktop request; a real client connects with the one-time credentials; states and reports arrive", async () => {
    const session = await call(OWNER, "USER", "POST", "/api/v1/sessions", { nodeId, title: "agent rdp e2e" });
    expect(session.status, JSON.stringify(session.json)).toBe(201);
    sessionId = session.json.id;
    const desktop = await call(OWNER, "USER", "POST", "/api/v1/rdp/desktops", { sessionId, resolution: { width: 800, height: 600 } });
    expect(desktop.status, JSON.stringify(desktop.json)).toBe(201);
    expect(desktop.json).toMatchObject({ port: rdpPort, host: "127.0.0.1" });
    serverId = desktop.json.server.id;
    sessionUser = desktop.json.username;
    const serverPath = `/api/v1/rdp/hosts/${nodeId}/servers/${serverId}`;
    await until("running server", async () => (await call(OWNER, "USER", "GET", serverPath)).json?.state === "running");

    xvfb = await startXvfb(1000, 800, [187]);
    const args = [
      `/v:127.0.0.1:${desktop.json.port}`,
      `/u:${desktop.json.username}`,
      `/p:${desktop.json.password}`,
      "/cert:ignore",
      "/size:800x600",
      "/bpp:32",
    ];
    const client = spawn("xfreerdp", args, { env: { ...process.env, DISPLAY: ":187" }, stdio: "ignore" });
    children.push(client);
    const live = await until("a live connection with a resource report", async () => {
      const s = (await call(OWNER, "USER", "GET", serverPath)).json;
      return ["active", "idle"].includes(s?.connection) && s.lastReport ? s : null;
    });
    expect(live.lastReport.memoryMb).toBeGreaterThan(10);
    // server.notify reaches the user's desktop (an xmessage window on the session's display) and is acked done.
    const notify = await call(OPERATOR, "NODE_OPERATOR", "POST", `${serverPath}/notify`, {
      level: "warning",
      message: "Maintenance at 23:00",
    });
    expect(notify.status, JSON.stringify(notify.json)).toBe(200);
    await until("the notice acked", async () =>
      new RegExp(`command ${notify.json.commandId} \\(server\\.notify, attempt 1\\): done`).test(agentOutput),
    );
    const display = /session display (:\d+)/.exec(agentOutput)![1]!;
    const windows = execFileSync("xwininfo", ["-display", display, "-root", "-tree"], {
      encoding: "utf8",
      env: { ...process.env, XAUTHORITY: join(lookupUser(sessionUser)!.home, ".Xauthority") },
    });
    expect(windows).toContain('"Lucid: Message from Lucid"');
    expect(agentOutput).toMatch(
      /^desktop-notice \{"commandId":"[^"]+","serverId":"[^"]+","level":"warning","message":"Maintenance at 23:00","display":":\d+"\}$/m,
    );
    // The recorder (a child process) runs once it says so. Not a condition then: time for a few
    // frames of the live desktop to be recorded before the client leaves.
    await until("recording", async () => /recorder: recording :18\d \(800x600\)/.test(agentOutput));
    await new Promise((r) => setTimeout(r, 1500));
    client.kill("SIGTERM");
    await xvfb.stop();
    await until("disconnected", async () => (await call(OWNER, "USER", "GET", serverPath)).json?.connection === "disconnected");
  }, 120_000);

  it("stops on the owner's request, once, though the ack is lost: the command is replayed after reconnect and acked again; the recording is uploaded under the session key", async () => {
    // The control plane dies while the agent carries the stop out (its recorder seals the last chunk and
    // uploads it, which waits for the server to come back), so the ack cannot be sent: the DO still
    // holds the command and delivers it again after the agent's hello. The agent acts once, acks again.
    const stop = await call(OWNER, "USER", "POST", `/api/v1/rdp/hosts/${nodeId}/servers/${serverId}/stop`);
    expect(stop.status, JSON.stringify(stop.json)).toBeLessThan(300);
    const commandId = (
      await until("the stop command", async () => /command (\S+) \(server\.stop, attempt 1\): received/.exec(agentOutput), 45_000, 10)
    )[1]!;
    await workerd!.stop("SIGKILL");
    await until("the channel to close", async () => /control channel closed/.test(agentOutput));
    workerd = startWorkerd(configPath, { env: secrets });
    await waitForHttp(`${base}/health`, 30_000);
    await until(
      "the replayed stop acked as a duplicate",
      async () => new RegExp(`command ${commandId} \\(server\\.stop, attempt [2-9]\\): duplicate`).test(agentOutput),
      90_000,
    );
    await until(
      "the stop carried out",
      async () => new RegExp(`command ${commandId} \\(server\\.stop, attempt 1\\): done`).test(agentOutput),
      60_000,
    );
    await until(
      "stopped server",
      async () => (await call(OWNER, "USER", "GET", `/api/v1/rdp/hosts/${nodeId}/servers/${serverId}`)).json?.state === "stopped",
    );
    const session = await until("an uploaded chunk", async () => {
      const s = (await call(OWNER, "USER", "GET", `/api/v1/sessions/${sessionId}`)).json;
      return s?.chunks?.count > 0 ? s : null;
    });
    expect(session.state).toBe("recording"); // the agent started it when the session display came up
    // Sealed under the session's own data key (the one its owner is given), not a key of the agent's making.
    const key = await call(OWNER, "USER", "GET", `/api/v1/sessions/${sessionId}/key`);
    const spooled = readFileSync(join(stateDir, "spool", sessionId, "session.key"), "utf8").trim();
    expect(Buffer.from(key.json.key, "base64").toString("hex")).toBe(spooled);
    expect(agentOutput.match(/: stopped \(requested\)/g)).toHaveLength(1); // carried out once, acked for every delivery
  }, 180_000);

  it("reconnects the channel with back-off after the control plane went away, and keeps beating", async () => {
    const connectedBefore = agentOutput.match(/control channel connected/g)!.length;
    const beatsBefore = agentOutput.match(/heartbeat \d+ accepted/g)!.length;
    await workerd!.stop("SIGKILL");
    await until("the channel to notice", async () => /control channel closed \(\d+[^)]*\); reconnecting in \d+ ms/.test(agentOutput));
    workerd = startWorkerd(configPath, { env: secrets });
    await waitForHttp(`${base}/health`, 30_000);
    await until("a new channel", async () => agentOutput.match(/control channel connected/g)!.length > connectedBefore, 90_000);
    await until("a heartbeat after the restart", async () => agentOutput.match(/heartbeat \d+ accepted/g)!.length > beatsBefore, 60_000);
    const host = await call(OPERATOR, "NODE_OPERATOR", "GET", `/api/v1/rdp/hosts/${nodeId}`);
    expect(host.json).toMatchObject({ connected: true });
    agent!.kill("SIGTERM");
    expect(await new Promise((r) => agent!.on("exit", r))).toBe(0);
  }, 150_000);
});
