// A live desktop migrated between two real agents on this machine (two state directories, two RDP
// port ranges): workerd, `lucid-agent run` ×2, xrdp + xorgxrdp, xfreerdp clients. The session is
// handed over with the desktop: the old agent seals and uploads its part and declares its count, the
// new agent fetches the key and records from the next chunk index. The decoded recording has one gap
// only, at the hand-over, and every chunk index arrives once.
// Root only (the agents create session users); xrdp's one sesman makes it exclusive with the other
// xrdp tests (scripts/system-tools.ts leaves it out where the tools are missing).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { ROOT, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { lookupUser, removeUser } from "../../pi-agent/lib/xrdp/users.ts";
import { decodeRecording } from "../../shared/recording/index.ts";
import { until as untilHolds } from "../node/helpers/until.ts";
import { startXvfb, type Xvfb } from "../node/helpers/xvfb.ts";
import { enrolAgent } from "./helpers/agent-process.ts";
import { killProcessTrees, startRdpWorkerd } from "./helpers/rdp-host.ts";

const BIN = join(ROOT, "pi-agent/bin/lucid-agent.ts");
const work = mkdtempSync(join(tmpdir(), "lucid-agent-migrate-"));
const secrets = randomSecrets();
const OPERATOR = "op-migrate-e2e";
const OWNER = "user-migrate-e2e";
let base = "";
let rdpPort = 0;
let workerd: WorkerdProcess | undefined;
const children: ChildProcess[] = [];
const users: string[] = [];
const output = { a: "", b: "" };
let xvfb: Xvfb | undefined;

async function token(sub: string, role: "NODE_OPERATOR" | "USER") {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub, role, iat: now, exp: now + 900 }, secrets.JWT_SECRET_KEY, "HS256");
}

async function call(method: string, path: string, body?: unknown, sub = OWNER, role: "NODE_OPERATOR" | "USER" = "USER") {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${await token(sub, role)}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json().catch(() => null)) as any };
}

/** Waits for a condition, printing both agents' output when it does not come. */
function until<T>(what: string, probe: () => Promise<T>, timeoutMs = 60_000, intervalMs = 250) {
  return untilHolds(what, probe, {
    timeoutMs,
    intervalMs,
    detail: () => `agent A:\n${output.a.slice(-3000)}\nagent B:\n${output.b.slice(-3000)}`,
  });
}

function run(args: string[], into?: "a" | "b") {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  if (into) child.stderr!.on("data", (d) => (output[into] += d));
  return child;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Two consecutive free ports: one RDP port for each agent. */
async function twoPorts(): Promise<number> {
  for (let p = 23389 + Math.floor(Math.random() * 2000); ; p += 2) if ((await portFree(p)) && (await portFree(p + 1))) return p;
}

async function enrol(stateDir: string): Promise<string> {
  return enrolAgent({ server: base, operatorToken: await token(OPERATOR, "NODE_OPERATOR"), stateDir, work, children });
}

function client(display: string, desktop: { port: number; username: string; password: string }) {
  const child = spawn(
    "xfreerdp",
    [`/v:127.0.0.1:${desktop.port}`, `/u:${desktop.username}`, `/p:${desktop.password}`, "/cert:ignore", "/size:800x600", "/bpp:32"],
    { env: { ...process.env, DISPLAY: display }, stdio: "ignore" },
  );
  children.push(child);
  return child;
}

beforeAll(async () => {
  rdpPort = await twoPorts();
  ({ base, workerd } = await startRdpWorkerd(work, secrets, [rdpPort, rdpPort + 1], 2));
}, 120_000);

afterAll(async () => {
  killProcessTrees(children);
  await xvfb?.stop();
  await workerd?.stop();
  for (const name of users) {
    const user = lookupUser(name);
    if (user?.createdByAgent) removeUser(user);
  }
  rmSync(work, { recursive: true, force: true });
});

describe("a live desktop migrated between two agents keeps one recording", () => {
  it("hands the session over: no gap beyond the hand-over, every chunk once, both parts in the manifest", async () => {
    const nodeA = await enrol(join(work, "a"));
    const nodeB = await enrol(join(work, "b"));
    const common = [
      "--listen",
      "127.0.0.1",
      "--public-address",
      "127.0.0.1",
      "--desktop",
      "xterm -geometry 40x10+0+0",
      "--idle-seconds",
      "3",
      "--heartbeat-seconds",
      "5",
      "--record-chunk-seconds",
      "2",
    ];
    const agentA = run(
      ["run", "--state", join(work, "a"), "--rdp-ports", `${rdpPort}-${rdpPort}`, "--display-offset", "170", ...common],
      "a",
    );
    run(["run", "--state", join(work, "b"), "--rdp-ports", `${rdpPort + 1}-${rdpPort + 1}`, "--display-offset", "175", ...common], "b");
    await until("both channels", async () => /control channel connected/.test(output.a) && /control channel connected/.test(output.b));

    // A desktop on A, with a client logged in and recording.
    const session = await call("POST", "/api/v1/sessions", { nodeId: nodeA, title: "migrate e2e" });
    expect(session.status, JSON.stringify(session.json)).toBe(201);
    const sessionId: string = session.json.id;
    const first = await call("POST", "/api/v1/rdp/desktops", { sessionId, resolution: { width: 800, height: 600 } });
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    expect(first.json.port).toBe(rdpPort);
    users.push(first.json.username);
    await until(
      "A's server running",
      async () => (await call("GET", `/api/v1/rdp/hosts/${nodeA}/servers/${first.json.server.id}`)).json?.state === "running",
    );
    xvfb = await startXvfb(1000, 800, [177]);
    const clientA = client(":177", first.json);
    await until("A recording", async () => /recorder: recording :\d+ \(800x600\)/.test(output.a));
    await until("A's first chunks uploaded", async () => (await call("GET", `/api/v1/sessions/${sessionId}`)).json?.chunks?.count >= 2);

    // Migrate the live desktop: the session moves to B in the same step.
    const moved = await call("POST", `/api/v1/rdp/hosts/${nodeA}/servers/${first.json.server.id}/migrate`, { toHostId: nodeB });
    expect(moved.status, JSON.stringify(moved.json)).toBe(201);
    expect(moved.json.port).toBe(rdpPort + 1);
    users.push(moved.json.username);
    expect((await call("GET", `/api/v1/sessions/${sessionId}`)).json.nodeId).toBe(nodeB);
    const declared = Number((await until("A's declaration", async () => /handed over after (\d+) chunks/.exec(output.a)))[1]);
    expect(declared).toBeGreaterThanOrEqual(2);
    await until("A's server stopped", async () =>
      ["stopped", "destroyed"].includes((await call("GET", `/api/v1/rdp/hosts/${nodeA}/servers/${first.json.server.id}`)).json?.state),
    );
    clientA.kill("SIGTERM");

    // The user reconnects to B: B records from A's count on.
    await until(
      "B's server running",
      async () => (await call("GET", `/api/v1/rdp/hosts/${nodeB}/servers/${moved.json.server.id}`)).json?.state === "running",
    );
    client(":177", moved.json);
    await until(
      "B recording",
      async () => new RegExp(`recorder: recording :\\d+ \\(800x600\\) as session ${sessionId} from chunk ${declared}`).test(output.b),
      90_000,
    );
    await until(
      "B's chunks uploaded",
      async () => (await call("GET", `/api/v1/sessions/${sessionId}`)).json?.chunks?.count >= declared + 2,
    );

    // B's desktop ends (its recorder seals and uploads the last chunk); the owner stops the session.
    expect((await call("POST", `/api/v1/rdp/hosts/${nodeB}/servers/${moved.json.server.id}/stop`)).status).toBe(200);
    await until(
      "B's server stopped",
      async () => (await call("GET", `/api/v1/rdp/hosts/${nodeB}/servers/${moved.json.server.id}`)).json?.state === "stopped",
      60_000,
    );
    await until("every spooled chunk uploaded", async () => {
      const s = (await call("GET", `/api/v1/sessions/${sessionId}`)).json;
      return s.chunks.count === s.chunks.contiguous && !/chunks are still in the spool/.test(output.b) ? s : null;
    });
    const stop = await call("POST", `/api/v1/sessions/${sessionId}/stop`);
    expect(stop.status, JSON.stringify(stop.json)).toBe(200);
    const manifest = await until("the manifest", async () => {
      const m = await call("GET", `/api/v1/sessions/${sessionId}/manifest`);
      return m.status === 200 ? m.json : null;
    });
    expect(manifest.parts).toEqual([
      { node: nodeA, firstIndex: 0, since: null },
      { node: nodeB, firstIndex: declared, since: expect.any(String) },
    ]);

    // Every index once, from the node whose part it is.
    const events = (await call("GET", `/api/v1/sessions/${sessionId}/events`)).json.items as {
      kind: string;
      actor: string;
      detail: { index: number };
    }[];
    const stored = events.filter((e) => e.kind === "chunk-stored");
    expect(stored.map((e) => e.detail.index).sort((x, y) => x - y)).toEqual([...Array(manifest.treeSize).keys()]);
    for (const e of stored) expect(e.actor).toBe(`node:${e.detail.index < declared ? nodeA : nodeB}`);
    expect(events.some((e) => e.kind === "chunk-rejected")).toBe(false);

    // Decoded: time only moves forward, and the one pause longer than a chunk is at the hand-over.
    const key = Buffer.from((await call("GET", `/api/v1/sessions/${sessionId}/key`)).json.key, "base64");
    const times: number[][] = [];
    for (const chunk of manifest.chunks as { index: number; nonce: string; captureStart: number; captureEnd: number }[]) {
      const res = await fetch(`${base}/api/v1/sessions/${sessionId}/chunks/${chunk.index}`, {
        headers: { Authorization: `Bearer ${await token(OWNER, "USER")}` },
      });
      expect(res.status).toBe(200);
      const plain = openChunk(new Uint8Array(await res.arrayBuffer()), Buffer.from(chunk.nonce, "hex"), sessionId, chunk.index, key);
      const frames = [...decodeRecording(plain)].map((f) => f.epochMs);
      expect(frames.length).toBeGreaterThan(0);
      times.push(frames);
    }
    const gaps = times.slice(1).map((frames, i) => ({ index: i + 1, gap: frames[0]! - times[i]!.at(-1)! }));
    for (const { gap } of gaps) expect(gap).toBeGreaterThan(0);
    const handover = gaps.find((g) => g.index === declared)!;
    // Within a part, a chunk starts where the previous one ended (the next frame); the hand-over's pause is the longest.
    for (const g of gaps) if (g.index !== declared) expect(g.gap).toBeLessThanOrEqual(handover.gap);
    agentA.kill("SIGTERM");
  }, 300_000);
});
