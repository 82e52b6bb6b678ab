// What the agent does on a notification, on real components: a desktop notice on a real X server
// (xmessage, found again with xwininfo), and a real recorder whose uploads are held and released
// over its control stdin (lockdown), and which stops with its spool kept (recordings halted).
// X displays :160–:165 belong to this file.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationActions } from "../../pi-agent/lib/node/notification-actions.ts";
import { NoticeBoard } from "../../pi-agent/lib/node/notice-board.ts";
import { closeDesktopNotices, showDesktopNotice } from "../../pi-agent/lib/xrdp/desktop-notice.ts";
import { ChunkServer } from "./helpers/chunk-server.ts";
import { until } from "./helpers/until.ts";
import { noise, putImage, startXvfb, type Xvfb } from "./helpers/xvfb.ts";

const BIN = join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts");
let xvfb: Xvfb;
const dirs: string[] = [];

beforeAll(async () => {
  xvfb = await startXvfb(320, 240, [160, 161, 162, 163, 164, 165]);
});
afterAll(async () => {
  await xvfb?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("desktop notices", () => {
  it("shows the notice as a window on the display and resolves only once it is there", async () => {
    await showDesktopNotice(
      { display: xvfb.display },
      { level: "critical", title: "Maintenance\u0007 tonight", body: "-geometry 1x1 is text, not an option" },
    );
    const tree = execFileSync("xwininfo", ["-display", xvfb.display, "-root", "-tree"], { encoding: "utf8" });
    expect(tree).toContain('"Lucid: Maintenance  tonight"'); // the control character is gone
  });

  it("a retracted broadcast's window is taken off the desktop, and only that one", async () => {
    const windows = () => execFileSync("xwininfo", ["-display", xvfb.display, "-root", "-tree"], { encoding: "utf8" });
    const state = mkdtempSync(join(tmpdir(), "lucid-notify-board-"));
    dirs.push(state);
    const lines: string[] = [];
    const actions = new NotificationActions({
      board: new NoticeBoard(state, (line) => lines.push(line)),
      host: { desktops: () => [{ display: xvfb.display, serverId: "srv-1" }], applyEmergency: async () => {} },
      show: (target, notice, tag) => showDesktopNotice(target, notice, { tag }),
      log: (line) => lines.push(line),
    });
    const broadcast = (type: "notification" | "retraction", id: number, title: string) =>
      ({ type, id, at: new Date().toISOString(), audience: "all", severity: "warning", title, body: "b" }) as const;
    await actions.notification(broadcast("notification", 41, "Kept notice"));
    await actions.notification(broadcast("notification", 42, "Withdrawn notice"));
    expect(windows()).toContain('"Lucid: Withdrawn notice"');
    await actions.retraction(broadcast("retraction", 42, "Withdrawn notice"));
    await until("the window to close", () => !windows().includes('"Lucid: Withdrawn notice"'), { detail: windows });
    expect(windows()).toContain('"Lucid: Kept notice"');
    expect(lines.find((l) => l.startsWith("retraction "))).toContain(`"closedOn":["${xvfb.display}"]`);
    await actions.retraction(broadcast("retraction", 41, "Kept notice"));
    await until("the other window to close", () => !windows().includes('"Lucid: Kept notice"'), { detail: windows });

    // A notice shown by an agent process that has since restarted: the new one has no handle to
    // its window, and finds it by its tag on the displays the board says it was shown on.
    await actions.notification(broadcast("notification", 43, "Before the restart"));
    await actions.notification(broadcast("notification", 44, "Still valid"));
    const restarted = new NotificationActions({
      board: new NoticeBoard(state, (line) => lines.push(line)),
      host: { desktops: () => [{ display: xvfb.display, serverId: "srv-1" }], applyEmergency: async () => {} },
      show: (target, notice, tag) => showDesktopNotice(target, notice, { tag }),
      closeTagged: closeDesktopNotices,
      log: (line) => lines.push(line),
    });
    await restarted.retractedWhileAway([43]);
    await until("the earlier process's window to close", () => !windows().includes('"Lucid: Before the restart"'), { detail: windows });
    expect(windows()).toContain('"Lucid: Still valid"');
    expect(lines.at(-1)).toContain(`"whileAway":true,"closedOn":["${xvfb.display}"]`);
    await restarted.retraction(broadcast("retraction", 44, "Still valid"));
    await until("the last window to close", () => !windows().includes('"Lucid: Still valid"'), { detail: windows });
  });

  it("fails with the reason when the display cannot be reached, and refuses what is not a display", async () => {
    await expect(
      showDesktopNotice({ display: ":169", xauthority: "/nonexistent" }, { level: "info", title: "t", body: "b" }),
    ).rejects.toThrow(/xmessage exited .*before showing/);
    await expect(showDesktopNotice({ display: "remote:0" }, { level: "info", title: "t", body: "b" })).rejects.toThrow(/not an X display/);
  });
});

describe("a recorder under the emergency policy (control stdin)", () => {
  it("holds uploads while recording (lockdown), sends the spool when released, and stops with the spool kept", async () => {
    const server = new ChunkServer("node-secret");
    await server.start();
    const out = mkdtempSync(join(tmpdir(), "lucid-notify-rec-"));
    dirs.push(out);
    let seed = 1;
    const painter = setInterval(() => putImage(xvfb.display, (seed * 37) % 280, (seed * 53) % 200, 40, 40, noise(40, 40, seed++).bgrx), 30);
    const args = [
      "record",
      "--display",
      xvfb.display,
      "--out",
      out,
      "--session",
      "sess-held",
      "--server",
      server.url,
      "--fps",
      "20",
      "--chunk-seconds",
      "0.5",
    ];
    const child = spawn(process.execPath, [BIN, ...args, "--uploads-paused", "--control-stdin"], {
      env: { ...process.env, LUCID_NODE_TOKEN: "node-secret" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const spooled = () => readdirSync(join(out, "chunks")).filter((f) => f.endsWith(".json")).length;
    try {
      await until("two spooled chunks", () => (output.match(/spooled/g) ?? []).length >= 2, { detail: () => output });
      expect(output).toMatch(/^uploads paused$/m);
      expect(server.attempts).toBe(0); // held: not one PUT while paused
      expect(spooled()).toBeGreaterThanOrEqual(2);

      child.stdin!.write("uploads resume\n");
      await until("uploads", () => server.session("sess-held").size >= 2, { detail: () => output });
      expect(output).toMatch(/^uploads resumed$/m);

      child.stdin!.write("uploads pause\n");
      await until("paused again", () => (output.match(/^uploads paused$/gm) ?? []).length === 2, { detail: () => output });
      const uploaded = server.session("sess-held").size;
      await until("a chunk spooled while paused", () => spooled() >= 1 && output.split("uploads paused").at(-1)!.includes("spooled"), {
        detail: () => output,
      });
      child.stdin!.write("nonsense\n");
      await until("the warning", () => output.includes('ignored control line "nonsense"'), { detail: () => output });
      child.kill("SIGTERM"); // what the agent does when recordings are halted: seal, do not drain
      expect(await exited, output).toBe(1); // chunks left in the spool
      expect(output).toMatch(/stopped after \d+ frames/);
      expect(output).toMatch(/(\d+) chunks are still in the spool/);
      expect(spooled()).toBeGreaterThanOrEqual(1);
      expect(server.session("sess-held").size).toBe(uploaded);
    } finally {
      clearInterval(painter);
      if (child.exitCode === null) child.kill("SIGKILL");
      await server.stop();
    }
  }, 60_000);

  it("--uploads-paused without --server is a usage error", async () => {
    const out = mkdtempSync(join(tmpdir(), "lucid-notify-usage-"));
    dirs.push(out);
    const child = spawn(process.execPath, [BIN, "record", "--display", xvfb.display, "--out", out, "--uploads-paused"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let output = "";
    child.stderr!.on("data", (d) => (output += d));
    expect(await new Promise((r) => child.on("exit", r))).toBe(64);
    expect(output).toMatch(/--uploads-paused needs --server/);
  });
});
