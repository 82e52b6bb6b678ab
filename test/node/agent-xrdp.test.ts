import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEvents, decodeRecording, type InteractionEvent } from "../../shared/recording/index.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { ScreenCapture } from "../../pi-agent/lib/native.ts";
import { until } from "./helpers/until.ts";
import { startXrdpSession, type XrdpSession } from "./helpers/xrdp.ts";
import { noise, putImage, startXvfb, warpPointer, type Xvfb } from "./helpers/xvfb.ts";
import { ResourceReport, type CommandBody, type EventBody } from "../../shared/rdp/protocol.ts";
import { ServerManager } from "../../pi-agent/lib/xrdp/manager.ts";
import { lookupUser, removeUser, sessionDisplay } from "../../pi-agent/lib/xrdp/users.ts";
import { freePort } from "../../edge-adapter/workerd-process.ts";
import { allProcesses } from "../../pi-agent/lib/node/proc-stats.ts";
import { showDesktopNotice, type DesktopTarget } from "../../pi-agent/lib/xrdp/desktop-notice.ts";

const BIN = join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts");
const dir = mkdtempSync(join(tmpdir(), "lucid-xrdp-"));
let session: XrdpSession;

// Creating the session user needs root, which CI has; scripts/system-tools.ts leaves this file out
// where root or the X/RDP tools are missing.
describe("recording a real xrdp session (xrdp + xorgxrdp + xfreerdp on loopback)", () => {
  beforeAll(async () => {
    session = await startXrdpSession(dir, { width: 800, height: 600 }, { sessionOffset: 170, client: [189, 188] }); // displays :170–:189
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

    await until("the first frame", () => output.includes("first frame captured"), { detail: () => output });
    process.env.XAUTHORITY = session.xauthority; // for the test's own X client
    const red = new Uint8Array(40 * 40 * 4);
    for (let i = 0; i < red.length; i += 4) red[i + 2] = 255;
    putImage(session.display, 700, 500, 40, 40, red);
    warpPointer(session.display, 123, 45);

    expect(await exited, output).toBe(0);
    expect(output).toContain(`recording ${session.display} (800x600)`);
    expect(output).not.toMatch(/XShmAttach failed/); // the segment was handed to the session user's server
    expect(output).not.toMatch(/DAMAGE/); // xorgxrdp has DAMAGE: only what is drawn is grabbed
    expect(output).not.toMatch(/cursor/); // and XFIXES: the cursor is recorded as events

    const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
    const chunks = readdirSync(join(out, "chunks"))
      .filter((f) => f.endsWith(".json"))
      .sort();
    let last: Uint8Array | null = null;
    let first: string | null = null;
    const cursor: string[] = [];
    for (const name of chunks) {
      const meta = JSON.parse(readFileSync(join(out, "chunks", name), "utf8"));
      const bytes = readFileSync(join(out, "chunks", name.replace(".json", ".bin")));
      const plain = openChunk(bytes, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key);
      for (const e of decodeEvents(plain)) cursor.push(e.kind === "cursor-move" ? `move ${e.x},${e.y}` : e.kind);
      for (const frame of decodeRecording(plain)) {
        first ??= frame.type;
        expect([frame.width, frame.height]).toEqual([800, 600]);
        last = frame.pixels.slice();
      }
    }
    expect(first).toBe("keyframe");
    expect(cursor[0]).toBe("cursor-shape"); // xorgxrdp's cursor, from XFixes
    expect(cursor).toContain("move 123,45");
    for (const [x, y] of [
      [700, 500],
      [739, 539],
    ]) {
      const at = (y! * 800 + x!) * 3;
      expect([...last!.subarray(at, at + 3)]).toEqual([0, 0, 255]);
    }
    // The whole decoded last frame is the screen (read whole, without DAMAGE) after the recorder stopped.
    const screen = ScreenCapture.openX11(session.display, { damage: false });
    const whole = await screen.next({ keyframe: true, tileSize: 64 });
    screen.close();
    if (whole.type !== "keyframe") throw new Error("no keyframe from the screen");
    expect(Buffer.from(last!).equals(whole.body.subarray(4))).toBe(true);
  }, 60_000);
});

// The agent's side of the RDP control plane (pi-agent/lib/xrdp/manager.ts) with real xrdp, xorgxrdp
// and an xfreerdp client: in the same file as the test above because xrdp finds its one sesman
// through /etc/xrdp/sesman.ini's port, so two xrdp tests cannot run at once.
describe("xrdp servers on control-plane commands (ServerManager)", () => {
  const work = mkdtempSync(join(tmpdir(), "lucid-bridge-"));
  // Readable by the session user: its desktop script and its recording gate.
  const shared = mkdtempSync(join(tmpdir(), "lucid-bridge-shared-"));
  chmodSync(shared, 0o755);
  // The desktop paints the whole screen red the moment it starts, blue 3 s later, then opens an xterm:
  // red is "content drawn right after login".
  const desktop = join(shared, "desktop.sh");
  writeFileSync(desktop, "#!/bin/sh\nxsetroot -solid '#ff0000'\nsleep 3\nxsetroot -solid '#0000ff'\nexec xterm -geometry 40x10+0+0\n", {
    mode: 0o755,
  });
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
    config: { resolution: { width: 800, height: 600 }, colourDepth: 24, backend: "xorg", user: USER, interaction: "metadata" },
    limits: { cpuSharePercent: 50, memoryMb: 1024, diskMb: 1024, bandwidthKbps: 10_000, sessionTtlSeconds: 3600 },
    password: PASSWORD,
  });
  const seen = { intervalMs: 100, detail: () => `events: ${JSON.stringify(events)}` };
  const connectionStates = () => events.filter((e) => e.kind === "connection").map((e) => e.state);

  beforeAll(async () => {
    port = await freePort();
    manager = new ServerManager({
      stateDir: join(work, "state"),
      listenAddress: "127.0.0.1",
      desktop,
      gateDir: join(shared, "gates"),
      agentBin: BIN,
      idleSeconds: 3,
      displayOffset: 175, // this suite's X displays: :175–:189
      pollMs: 250,
      onEvent: (e) => events.push(e),
      onNotify: async (command, target) => {
        notices.push({ commandId: command.commandId, target });
        if (target) await showDesktopNotice(target, { level: command.level, title: "Message from Lucid", body: command.message });
      },
      log: (line) => logs.push(line),
    });
    client = await startXvfb(1000, 800, [189, 188]);
  }, 60_000);
  afterAll(async () => {
    await manager?.close();
    await client?.stop();
    const user = lookupUser(USER);
    if (user) removeUser(user);
    rmSync(work, { recursive: true, force: true });
    rmSync(shared, { recursive: true, force: true });
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
    await expect(
      manager.execute({ ...start(), serverId: "srv_other", config: { ...start().config, user: "lucidbr2" } }),
    ).rejects.toMatchObject({
      code: "port-in-use",
    });
  }, 30_000);

  it("follows the client: connected, recorded, active, idle, disconnected; reports /proc resources", async () => {
    const args = [`/v:127.0.0.1:${port}`, `/u:${USER}`, `/p:${PASSWORD}`, "/cert:ignore", "/size:800x600", "/bpp:32"];
    const rdp = spawn("xfreerdp", args, { env: { ...process.env, DISPLAY: client!.display }, stdio: "ignore" });
    try {
      await until("connected", () => connectionStates().includes("connected"), seen);
      const session = sessionDisplay(lookupUser(USER)!.uid);
      expect(session?.display).toMatch(/^:1[78]\d$/);
      await until("the desktop's xterm", () => allProcesses().some((p) => p.uid === lookupUser(USER)!.uid && p.command === "xterm"), seen);
      await until("idle", () => connectionStates().includes("idle"), seen);
      // Draw on the session's display: xrdp sends the update to the client, so the connection is active again.
      process.env.XAUTHORITY = join(lookupUser(USER)!.home, ".Xauthority");
      putImage(session!.display, 400, 300, 200, 100, noise(200, 100, 7).bgrx); // a screen update xrdp must send
      const green = new Uint8Array(32 * 32 * 4);
      for (let i = 0; i < green.length; i += 4) green[i + 1] = 255;
      putImage(session!.display, 600, 400, 32, 32, green); // beside the xterm (top left), on the root window
      // A click in the session: recorded under the session's `metadata` interaction policy.
      execFileSync("xdotool", ["mousemove", "610", "410", "click", "1"], { env: { ...process.env, DISPLAY: session!.display } });
      await until("active after idle", () => connectionStates().lastIndexOf("active") > connectionStates().indexOf("idle"), seen);

      // server.notify: shown on the session's own display (an xmessage window), then resolved (acked done).
      await manager.execute(
        { kind: "server.notify", serverId: "srv_bridge1", level: "warning", message: "Maintenance at 23:00" },
        "cmd_notify1",
      );
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
    await until("disconnected", () => connectionStates().at(-1) === "disconnected", seen);
    expect(connectionStates()[0]).toMatch(/^(connecting|connected)$/);
    expect(sessionDisplay(lookupUser(USER)!.uid)).not.toBeNull(); // the session waits for a reconnect
  }, 90_000);

  it("recordings halted: the recorder stops with its chunk sealed and stays stopped; lifted, it resumes the same spool", async () => {
    const recordingsStarted = () => logs.filter((l) => /^server srv_bridge1: recording :1[78]\d$/.test(l)).length;
    const before = recordingsStarted();
    expect(before).toBeGreaterThan(0);
    await manager.applyEmergency({ writesHeld: false, recordingsHalted: true });
    expect(logs).toContain("server srv_bridge1: recording stopped (recordings halted); the open chunk is sealed and the spool kept");
    expect(logs.filter((l) => /recorder: stopped after \d+ frames/.test(l))).toHaveLength(1);
    const chunks = readdirSync(join(work, "state", "spool", "ses_bridge1", "chunks")).filter((f) => f.endsWith(".json"));
    expect(chunks.length).toBeGreaterThan(0);
    await manager.applyEmergency({ writesHeld: false, recordingsHalted: false });
    await until(
      "the recorder back",
      () => recordingsStarted() > before && logs.some((l) => /recorder: recording :1[78]\d .* from chunk [1-9]/.test(l)),
      seen,
    );
  }, 60_000);

  it("stops on command: the recording is sealed with the drawn pixels, the session ends, the port is free", async () => {
    await manager.execute({ kind: "server.stop", serverId: "srv_bridge1", reason: "requested", destroy: false });
    expect(events.at(-1)).toEqual({ kind: "server", serverId: "srv_bridge1", state: "stopped", detail: "requested" });
    const out = join(work, "state", "spool", "ses_bridge1");
    const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
    let last: Uint8Array | null = null;
    const interaction: InteractionEvent[] = [];
    const corner = (590 * 800 + 790) * 3; // bottom right: only the desktop's colours reach it
    const cornerColours: string[] = [];
    for (const name of readdirSync(join(out, "chunks"))
      .filter((f) => f.endsWith(".json"))
      .sort()) {
      const meta = JSON.parse(readFileSync(join(out, "chunks", name), "utf8"));
      expect(meta.sessionId).toBe("ses_bridge1");
      const bytes = readFileSync(join(out, "chunks", name.replace(".json", ".bin")));
      const plain = openChunk(bytes, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key);
      for (const e of decodeEvents(plain)) if (e.kind === "interaction") interaction.push(e.event);
      for (const frame of decodeRecording(plain)) {
        expect([frame.width, frame.height]).toEqual([800, 600]);
        last = frame.pixels.slice();
        const colour = [...last.subarray(corner, corner + 3)].join(",");
        if (cornerColours.at(-1) !== colour) cornerColours.push(colour);
      }
    }
    const at = (416 * 800 + 616) * 3;
    expect([...last!.subarray(at, at + 3)]).toEqual([0, 255, 0]);
    // The desktop config's interaction policy reached the recorder: the click is in the stream, no text is.
    expect(logs).toContain("server srv_bridge1 recorder: recording interaction events under the metadata policy");
    expect(interaction).toContainEqual({ type: "click", button: 1, x: 610, y: 410 });
    expect(interaction.some((e) => e.type === "text")).toBe(false);
    // The first frame is the screen before the desktop drew anything (startwm.sh waited for the recording);
    // the red painted right after login is recorded, then the blue that replaced it.
    const [red, blue] = ["0,0,255", "255,0,0"]; // decoded pixels are B, G, R
    expect([red, blue]).not.toContain(cornerColours[0]);
    expect(cornerColours.slice(1)).toEqual([red, blue]);
    await until("session end", () => sessionDisplay(lookupUser(USER)!.uid) === null, seen);
    await expect(manager.execute({ ...start(), serverId: "srv_bridge2" })).resolves.toBeUndefined(); // port reusable
    await manager.execute({ kind: "server.stop", serverId: "srv_bridge2", reason: "requested", destroy: true });
    expect(lookupUser(USER)).toBeNull(); // destroy removes the user the agent created
    await expect(manager.execute({ kind: "server.notify", serverId: "srv_bridge2", level: "info", message: "hi" })).rejects.toMatchObject({
      code: "unknown-server",
    });
  }, 60_000);

  it("the Xvnc backend (TigerVNC): the session's Xvnc display is recorded from before the desktop's first drawing", async () => {
    const VNC_USER = "lucidvnc1";
    const vnc: Extract<CommandBody, { kind: "server.start" }> = {
      ...start(),
      serverId: "srv_vnc1",
      sessionId: "ses_vnc1",
      config: { ...start().config, backend: "xvnc", user: VNC_USER },
    };
    const vncStates = () =>
      events.filter((e) => e.kind === "connection" && e.serverId === "srv_vnc1").map((e) => (e as { state: string }).state);
    try {
      await manager.execute(vnc);
      expect(readFileSync(join(work, "state", "servers", "srv_vnc1", "xrdp.ini"), "utf8")).toMatch(/^autorun=Xvnc$/m);
      const args = [`/v:127.0.0.1:${port}`, `/u:${VNC_USER}`, `/p:${PASSWORD}`, "/cert:ignore", "/size:800x600", "/bpp:32"];
      const rdp = spawn("xfreerdp", args, { env: { ...process.env, DISPLAY: client!.display }, stdio: "ignore" });
      try {
        await until("connected over Xvnc", () => vncStates().includes("connected"), seen);
        const session = sessionDisplay(lookupUser(VNC_USER)!.uid);
        expect(session?.display).toMatch(/^:1[78]\d$/);
        expect(readFileSync(`/proc/${session!.pid}/comm`, "utf8").trim()).toMatch(/^(Xvnc|Xtigervnc)$/); // not Xorg
        await until(
          "the desktop's xterm",
          () => allProcesses().some((p) => p.uid === lookupUser(VNC_USER)!.uid && p.command === "xterm"),
          seen,
        );
      } finally {
        rdp.kill("SIGTERM");
      }
      await manager.execute({ kind: "server.stop", serverId: "srv_vnc1", reason: "requested", destroy: false });
      const out = join(work, "state", "spool", "ses_vnc1");
      const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
      const corner = (590 * 800 + 790) * 3;
      const cornerColours: string[] = [];
      for (const name of readdirSync(join(out, "chunks"))
        .filter((f) => f.endsWith(".json"))
        .sort()) {
        const meta = JSON.parse(readFileSync(join(out, "chunks", name), "utf8"));
        const bytes = readFileSync(join(out, "chunks", name.replace(".json", ".bin")));
        for (const frame of decodeRecording(openChunk(bytes, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key))) {
          expect([frame.width, frame.height]).toEqual([800, 600]);
          const colour = [...frame.pixels.subarray(corner, corner + 3)].join(",");
          if (cornerColours.at(-1) !== colour) cornerColours.push(colour);
        }
      }
      const [red, blue] = ["0,0,255", "255,0,0"];
      expect([red, blue]).not.toContain(cornerColours[0]);
      expect(cornerColours.slice(1)).toEqual([red, blue]);
    } finally {
      await manager.execute({ kind: "server.stop", serverId: "srv_vnc1", reason: "cleanup", destroy: true }).catch(() => {});
    }
    expect(lookupUser(VNC_USER)).toBeNull();
  }, 90_000);
});

// The session's clipboard policy written into each desktop's xrdp.ini ([Channels] cliprdr) and shown
// with real xfreerdp clients (+clipboard) on one client display: one copy there reaches the desktop
// whose policy allows the clipboard and not the one whose policy does not. Same file as the others:
// xrdp's one sesman.
describe("clipboard policy in the desktop's xrdp configuration (xfreerdp +clipboard)", () => {
  const work = mkdtempSync(join(tmpdir(), "lucid-clip-"));
  const shared = mkdtempSync(join(tmpdir(), "lucid-clip-shared-"));
  chmodSync(shared, 0o755);
  const desktop = join(shared, "desktop.sh");
  writeFileSync(desktop, "#!/bin/sh\nexec xterm -geometry 30x5+0+0\n", { mode: 0o755 });
  const logs: string[] = [];
  const PASSWORD = "One-time-pass-clip-0123456789";
  const users = { on: "lucidcb1", off: "lucidcb0" };
  const children: ReturnType<typeof spawn>[] = [];
  let manager: ServerManager;
  let client: Xvfb | undefined;

  beforeAll(async () => {
    manager = new ServerManager({
      stateDir: join(work, "state"),
      listenAddress: "127.0.0.1",
      desktop,
      gateDir: join(shared, "gates"),
      agentBin: BIN,
      displayOffset: 150, // this suite's X displays: :150–:169
      pollMs: 250,
      onEvent: () => {},
      log: (line) => logs.push(line),
    });
    client = await startXvfb(1000, 800, [169, 168]);
  }, 60_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await manager?.close();
    await client?.stop();
    for (const name of Object.values(users)) {
      const user = lookupUser(name);
      if (user) removeUser(user);
    }
    rmSync(work, { recursive: true, force: true });
    rmSync(shared, { recursive: true, force: true });
  });

  /** The CLIPBOARD selection's text on `display` as its user's X clients see it, or null (no owner, no text). */
  function clipboardOf(display: string, user: string): string | null {
    try {
      const env = { ...process.env, XAUTHORITY: join(lookupUser(user)!.home, ".Xauthority") };
      return execFileSync("xclip", ["-o", "-selection", "clipboard", "-display", display], {
        env,
        encoding: "utf8",
        timeout: 5000,
        stdio: ["ignore", "pipe", "ignore"],
      });
    } catch {
      return null;
    }
  }

  it("a copy on the client reaches the desktop whose policy allows the clipboard, never the one whose policy does not", async () => {
    const ports = { on: await freePort(), off: await freePort() };
    for (const policy of ["on", "off"] as const) {
      await manager.execute({
        kind: "server.start",
        serverId: `srv_clip_${policy}`,
        sessionId: `ses_clip_${policy}`,
        port: ports[policy],
        config: {
          resolution: { width: 640, height: 480 },
          colourDepth: 24,
          backend: "xorg",
          user: users[policy],
          clipboard: policy === "on",
          audio: false,
        },
        limits: { cpuSharePercent: 50, memoryMb: 1024, diskMb: 1024, bandwidthKbps: 10_000, sessionTtlSeconds: 3600 },
        password: PASSWORD,
      });
      const ini = readFileSync(join(work, "state", "servers", `srv_clip_${policy}`, "xrdp.ini"), "utf8");
      expect(ini).toMatch(new RegExp(`^cliprdr=${policy === "on"}$`, "m"));
      expect(ini).toMatch(/^rdpsnd=false$/m);
      expect(ini).toMatch(/^allow_channels=true$/m);
      const rdp = spawn(
        "xfreerdp",
        [`/v:127.0.0.1:${ports[policy]}`, `/u:${users[policy]}`, `/p:${PASSWORD}`, "/cert:ignore", "/size:640x480", "+clipboard"],
        {
          env: { ...process.env, DISPLAY: client!.display },
          stdio: "ignore",
        },
      );
      children.push(rdp);
    }
    const displays = await until(
      "both desktops up",
      () => {
        const on = lookupUser(users.on) && sessionDisplay(lookupUser(users.on)!.uid);
        const off = lookupUser(users.off) && sessionDisplay(lookupUser(users.off)!.uid);
        const xterms = Object.values(users).every((u) => allProcesses().some((p) => p.uid === lookupUser(u)!.uid && p.command === "xterm"));
        return on && off && xterms ? { on: on.display, off: off.display } : null;
      },
      { timeoutMs: 60_000, intervalMs: 200, detail: () => logs.join("\n") },
    );

    // Copy on the client: xclip owns the client display's CLIPBOARD; both xfreerdp clients see the change.
    const TEXT = `lucid-clipboard-${process.pid}`;
    const copy = spawn("xclip", ["-quiet", "-selection", "clipboard", "-display", client!.display], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    children.push(copy);
    copy.stdin!.end(TEXT);
    await until("the copy in the desktop that allows the clipboard", () => clipboardOf(displays.on, users.on) === TEXT, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    // By now the client has announced the copy on every channel it has: the other desktop has none for it.
    expect(clipboardOf(displays.off, users.off)).not.toBe(TEXT);
  }, 120_000);
});
