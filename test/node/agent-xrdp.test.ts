import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeRecording } from "../../shared/recording/index.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { startXrdpSession, type XrdpSession } from "./helpers/xrdp.ts";
import { noise, putImage, startXvfb, type Xvfb } from "./helpers/xvfb.ts";
import { ResourceReport, type CommandBody, type EventBody } from "../../shared/rdp/protocol.ts";
import { ServerManager } from "../../pi-agent/lib/xrdp/manager.ts";
import { lookupUser, removeUser, sessionDisplay } from "../../pi-agent/lib/xrdp/users.ts";
import { showDesktopNotice, type DesktopTarget } from "../../pi-agent/lib/xrdp/desktop-notice.ts";
import { freePort } from "../../edge-adapter/workerd-process.ts";

const BIN = join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts");
const dir = mkdtempSync(join(tmpdir(), "lucid-xrdp-"));
let session: XrdpSession;

// Creating the session user needs root, which CI has; elsewhere this file is skipped.
describe.skipIf(process.getuid?.() !== 0)("recording a real xrdp session (xrdp + xorgxrdp + xfreerdp on loopback)", () => {
  beforeAll(async () => {
    session = await startXrdpSession(dir, { width: 800, height: 600 });
  }, 60_000);
  afterAll(async () => {
    await session?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records the session's Xorg display as root through MIT-SHM, pixel-exact", async () => {
    const out = join(dir, "spool");
    const env = { ...process.env, XAUTHORITY: session.xauthority };
    const agent = spawn(process.execPath, [BIN, "record", "--display", session.display, "--out", out, "--duration", "3", "--fps", "10"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    agent.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => agent.on("exit", resolve));

    await new Promise((r) => setTimeout(r, 1500));
    process.env.XAUTHORITY = session.xauthority; // for the test's own X client
    const red = new Uint8Array(40 * 40 * 4);
    for (let i = 0; i < red.length; i += 4) red[i + 2] = 255;
    putImage(session.display, 700, 500, 40, 40, red);

    expect(await exited, output).toBe(0);
    expect(output).toContain(`recording ${session.display} (800x600)`);
    expect(output).not.toMatch(/XShmAttach failed/); // the segment was handed to the session user's server

    const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
    const chunks = readdirSync(join(out, "chunks")).filter((f) => f.endsWith(".json")).sort();
    let last: Uint8Array | null = null;
    let first: string | null = null;
    for (const name of chunks) {
      const meta = JSON.parse(readFileSync(join(out, "chunks", name), "utf8"));
      const bytes = readFileSync(join(out, "chunks", name.replace(".json", ".bin")));
      for (const frame of decodeRecording(openChunk(bytes, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key))) {
        first ??= frame.type;
        expect([frame.width, frame.height]).toEqual([800, 600]);
        last = frame.pixels.slice();
      }
    }
    expect(first).toBe("keyframe");
    for (const [x, y] of [[700, 500], [739, 539]]) {
      const at = (y! * 800 + x!) * 3;
      expect([...last!.subarray(at, at + 3)]).toEqual([0, 0, 255]);
    }
  }, 60_000);
});

// The agent's side of the RDP control plane (pi-agent/lib/xrdp/manager.ts) with real xrdp, xorgxrdp
// and an xfreerdp client: in the same file as the test above because xrdp finds its one sesman
// through /etc/xrdp/sesman.ini's port, so two xrdp tests cannot run at once.
describe.skipIf(process.getuid?.() !== 0)("xrdp servers on control-plane commands (ServerManager)", () => {
  const work = mkdtempSync(join(tmpdir(), "lucid-bridge-"));
  const events: EventBody[] = [];
  const logs: string[] = [];
  const notices: { commandId: string; target: DesktopTarget | null }[] = [];
  const USER = "lucidbr1";
  const PASSWORD = "One-time-pass-0123456789";
  let manager: ServerManager;
  let client: Xvfb | undefined;
  let port = 0;
  const start = (): Extract<CommandBody, { kind: "server.start" }> => ({
    kind: "server.start",
    serverId: "srv_bridge1",
    sessionId: "ses_bridge1",
    port,
    config: { resolution: { width: 800, height: 600 }, colourDepth: 24, backend: "xorg", user: USER },
    limits: { cpuSharePercent: 50, memoryMb: 1024, diskMb: 1024, bandwidthKbps: 10_000, sessionTtlSeconds: 3600 },
    password: PASSWORD,
  });
  const until = async (what: string, check: () => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const connectionStates = () => events.filter((e) => e.kind === "connection").map((e) => e.state);

  beforeAll(async () => {
    port = await freePort();
    manager = new ServerManager({
      stateDir: join(work, "state"),
      listenAddress: "127.0.0.1",
      desktop: "xterm -geometry 40x10+0+0",
      agentBin: BIN,
      idleSeconds: 3,
      displayOffset: 190, // this suite's X displays: :190–:199
      pollMs: 250,
      onEvent: (e) => events.push(e),
      onNotify: async (command, target) => {
        notices.push({ commandId: command.commandId, target });
        if (target) await showDesktopNotice(target, { level: command.level, title: "Message from Lucid", body: command.message });
      },
      log: (line) => logs.push(line),
    });
    client = await startXvfb(1000, 800, [199, 198]);
  }, 60_000);
  afterAll(async () => {
    await manager?.close();
    await client?.stop();
    const user = lookupUser(USER);
    if (user) removeUser(user);
    rmSync(work, { recursive: true, force: true });
  });

  it("starts xrdp on the allocated port for a provisioned user and says so", async () => {
    await manager.execute(start());
    expect(events.filter((e) => e.kind === "server")).toEqual([
      { kind: "server", serverId: "srv_bridge1", state: "starting" },
      { kind: "server", serverId: "srv_bridge1", state: "listening" },
    ]);
    expect(lookupUser(USER)).toMatchObject({ createdByAgent: true });
    // A replayed start of the same server is done already; another server on the same port is refused.
    await manager.execute(start());
    await expect(manager.execute({ ...start(), serverId: "srv_other", config: { ...start().config, user: "lucidbr2" } })).rejects.toMatchObject({
      code: "port-in-use",
    });
  }, 30_000);

  it("follows the client: connected, recorded, active, idle, disconnected; reports /proc resources", async () => {
    const args = [`/v:127.0.0.1:${port}`, `/u:${USER}`, `/p:${PASSWORD}`, "/cert:ignore", "/size:800x600", "/bpp:32"];
    const rdp = spawn("xfreerdp", args, { env: { ...process.env, DISPLAY: client!.display }, stdio: "ignore" });
    try {
      await until("connected", () => connectionStates().includes("connected"));
      const session = sessionDisplay(lookupUser(USER)!.uid);
      expect(session?.display).toMatch(/^:19\d$/);
      await until("idle", () => connectionStates().includes("idle"));
      // Draw on the session's display: xrdp sends the update to the client, so the connection is active again.
      process.env.XAUTHORITY = join(lookupUser(USER)!.home, ".Xauthority");
      putImage(session!.display, 400, 300, 200, 100, noise(200, 100, 7).bgrx); // a screen update xrdp must send
      const green = new Uint8Array(32 * 32 * 4);
      for (let i = 0; i < green.length; i += 4) green[i + 1] = 255;
      putImage(session!.display, 600, 400, 32, 32, green); // beside the xterm (top left), on the root window
      await until("active after idle", () => connectionStates().lastIndexOf("active") > connectionStates().indexOf("idle"));

      // server.notify: shown on the session's own display (an xmessage window), then resolved (acked done).
      await manager.execute({ kind: "server.notify", serverId: "srv_bridge1", level: "warning", message: "Maintenance at 23:00" }, "cmd_notify1");
      expect(notices).toEqual([{ commandId: "cmd_notify1", target: { display: session!.display, xauthority: process.env.XAUTHORITY } }]);
      const windows = execFileSync("xwininfo", ["-display", session!.display, "-root", "-tree"], { encoding: "utf8" });
      expect(windows).toContain('"Lucid: Message from Lucid"');

      const [report] = manager.reports();
      expect(report).toMatchObject({ kind: "resources", serverId: "srv_bridge1" });
      expect(report!.memoryMb).toBeGreaterThan(10); // Xorg, xterm and xrdp's processes
      expect(ResourceReport.safeParse(report).success).toBe(true);
    } finally {
      rdp.kill("SIGTERM");
    }
    await until("disconnected", () => connectionStates().at(-1) === "disconnected");
    expect(connectionStates()[0]).toMatch(/^(connecting|connected)$/);
    expect(sessionDisplay(lookupUser(USER)!.uid)).not.toBeNull(); // the session waits for a reconnect
  }, 90_000);

  it("recordings halted: the recorder stops with its chunk sealed and stays stopped; lifted, it resumes the same spool", async () => {
    const recordingsStarted = () => logs.filter((l) => / recording :19\d into /.test(l)).length;
    const before = recordingsStarted();
    expect(before).toBeGreaterThan(0);
    await manager.applyEmergency({ writesHeld: false, recordingsHalted: true });
    expect(logs).toContain("server srv_bridge1: recording stopped (recordings halted); the open chunk is sealed and the spool kept");
    expect(logs.filter((l) => /recorder: stopped after \d+ frames/.test(l))).toHaveLength(1);
    const chunks = readdirSync(join(work, "state", "spool", "ses_bridge1", "chunks")).filter((f) => f.endsWith(".json"));
    expect(chunks.length).toBeGreaterThan(0);
    await manager.applyEmergency({ writesHeld: false, recordingsHalted: false });
    await until("the recorder back", () => recordingsStarted() > before && logs.some((l) => /recorder: recording :19\d .* from chunk [1-9]/.test(l)));
  }, 60_000);

  it("stops on command: the recording is sealed with the drawn pixels, the session ends, the port is free", async () => {
    await manager.execute({ kind: "server.stop", serverId: "srv_bridge1", reason: "requested", destroy: false });
    expect(events.at(-1)).toEqual({ kind: "server", serverId: "srv_bridge1", state: "stopped", detail: "requested" });
    const out = join(work, "state", "spool", "ses_bridge1");
    const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
    let last: Uint8Array | null = null;
    for (const name of readdirSync(join(out, "chunks")).filter((f) => f.endsWith(".json")).sort()) {
      const meta = JSON.parse(readFileSync(join(out, "chunks", name), "utf8"));
      expect(meta.sessionId).toBe("ses_bridge1");
      const bytes = readFileSync(join(out, "chunks", name.replace(".json", ".bin")));
      for (const frame of decodeRecording(openChunk(bytes, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key))) {
        expect([frame.width, frame.height]).toEqual([800, 600]);
        last = frame.pixels.slice();
      }
    }
    const at = (416 * 800 + 616) * 3;
    expect([...last!.subarray(at, at + 3)]).toEqual([0, 255, 0]);
    await until("session end", () => sessionDisplay(lookupUser(USER)!.uid) === null);
    await expect(manager.execute({ ...start(), serverId: "srv_bridge2" })).resolves.toBeUndefined(); // port reusable
    await manager.execute({ kind: "server.stop", serverId: "srv_bridge2", reason: "requested", destroy: true });
    expect(lookupUser(USER)).toBeNull(); // destroy removes the user the agent created
    await expect(manager.execute({ kind: "server.notify", serverId: "srv_bridge2", level: "info", message: "hi" })).rejects.toMatchObject({
      code: "unknown-server",
    });
  }, 60_000);
});
