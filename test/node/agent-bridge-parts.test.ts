import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection, createServer } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { processInfo, processTree } from "../../pi-agent/lib/node/proc-stats.ts";
import { sesmanIni, xrdpIni } from "../../pi-agent/lib/xrdp/config.ts";
import { establishedClients } from "../../pi-agent/lib/xrdp/tcp.ts";
import { startwm } from "../../pi-agent/lib/xrdp/users.ts";
import { until } from "./helpers/until.ts";

// The parts of the xrdp bridge that need no root: configuration, /proc/net/tcp, process trees.
const BASE_XRDP = `[Globals]
port=3389
max_bpp=32
autorun=

[Logging]
LogFile=xrdp.log
EnableSyslog=true

[Channels]
rdpdr=true

[Xorg]
name=Xorg
lib=libxup.so

[Xvnc]
name=Xvnc
lib=libvnc.so

[neutrinordp-any]
name=neutrinordp-any
lib=libxrdpneutrinordp.so
`;

const BASE_SESMAN = `[Globals]
ListenPort=3350

[Sessions]
X11DisplayOffset=10

[Logging]
LogFile=xrdp-sesman.log
EnableSyslog=1

[ChansrvLogging]
EnableSyslog=true
`;

const config = { resolution: { width: 1280, height: 720 }, colourDepth: 16 as const, backend: "xorg" as const, user: "lucid13390" };

describe("xrdp bridge parts", () => {
  it("writes a server's xrdp.ini: its port and depth, its own log, only its backend, auto-run", () => {
    const ini = xrdpIni({ address: "127.0.0.1", port: 13390, config, logFile: "/s/xrdp.log", base: BASE_XRDP });
    expect(ini).toMatch(/^port=tcp:\/\/127\.0\.0\.1:13390$/m);
    expect(ini).toMatch(/^max_bpp=16$/m);
    expect(ini).toMatch(/^autorun=Xorg$/m);
    expect(ini).toMatch(/^LogFile=\/s\/xrdp\.log$/m);
    expect(ini).toMatch(/^EnableSyslog=false$/m);
    expect(ini).toContain("[Xorg]");
    expect(ini).toContain("[Channels]");
    expect(ini).not.toContain("[Xvnc]");
    expect(ini).not.toContain("neutrinordp");
    const vnc = xrdpIni({ address: "0.0.0.0", port: 13391, config: { ...config, backend: "xvnc" }, logFile: "/s/x.log", base: BASE_XRDP });
    expect(vnc).toMatch(/^autorun=Xvnc$/m);
    expect(vnc).toContain("[Xvnc]");
    expect(vnc).not.toContain("[Xorg]");
    expect(() => xrdpIni({ address: "0.0.0.0", port: 1, config, logFile: "/l", base: "[Globals]\nport=1\n" })).toThrow(/lacks/);
  });

  it("writes the session's clipboard and audio policy as xrdp's channels, off unless asked for", () => {
    const base = BASE_XRDP.replace("[Xorg]", "[Xorg]\nchannel.cliprdr=true\nchannel.rdpsnd=true");
    const off = xrdpIni({ address: "127.0.0.1", port: 13390, config, logFile: "/s/x.log", base });
    for (const line of ["allow_channels=true", "cliprdr=false", "rdpdr=false", "rdpsnd=false"])
      expect(off).toMatch(new RegExp(`^${line}$`, "m"));
    expect(off).not.toMatch(/^channel\.(cliprdr|rdpsnd)=/m); // a backend's own override cannot turn one back on
    const on = xrdpIni({
      address: "127.0.0.1",
      port: 13390,
      config: { ...config, clipboard: true, audio: true },
      logFile: "/s/x.log",
      base,
    });
    for (const line of ["cliprdr=true", "rdpdr=true", "rdpsnd=true"]) expect(on).toMatch(new RegExp(`^${line}$`, "m"));
    const audioOnly = xrdpIni({ address: "127.0.0.1", port: 13390, config: { ...config, audio: true }, logFile: "/s/x.log", base });
    expect(audioOnly).toMatch(/^cliprdr=false$/m);
    expect(audioOnly).toMatch(/^rdpsnd=true$/m);
  });

  it("keeps sesman where xrdp looks for it, with its own log and display offset", () => {
    const ini = sesmanIni({ logFile: "/s/sesman.log", displayOffset: 190, base: BASE_SESMAN });
    expect(ini).toMatch(/^ListenPort=3350$/m);
    expect(ini).toMatch(/^X11DisplayOffset=190$/m);
    expect(ini).toMatch(/^LogFile=\/s\/sesman\.log$/m);
    // Only [Logging] changes: chansrv's own logging section is left alone.
    expect(ini).toMatch(/\[ChansrvLogging\]\nEnableSyslog=true/);
  });

  it("sees an established loopback connection on a port in /proc/net/tcp, and its end", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    expect(establishedClients(port)).toEqual([]);
    const client = createConnection({ host: "127.0.0.1", port });
    await new Promise((r) => client.once("connect", r));
    expect(establishedClients(port)).toEqual([`127.0.0.1:${client.localPort}`]);
    client.destroy();
    await new Promise((r) => server.close(r));
    await vi.waitFor(() => expect(establishedClients(port)).toEqual([]), { timeout: 10_000, interval: 20 });
  });

  it("reads processes and their descendants from /proc", async () => {
    const child = spawn("sh", ["-c", "sleep 30 & wait"], { stdio: "ignore" });
    try {
      const tree = await until(
        "sh and its sleep",
        () => {
          const found = processTree([child.pid!]);
          return found.length >= 2 && found;
        },
        { intervalMs: 20 },
      );
      expect(tree.map((p) => p.command).sort()).toEqual(["sh", "sleep"]);
      const self = processInfo(process.pid)!;
      expect(self).toMatchObject({ pid: process.pid, ppid: process.ppid, uid: process.getuid!() });
      expect(self.rssMb).toBeGreaterThan(0);
      expect(processInfo(2 ** 22 + 1)).toBeNull();
    } finally {
      for (const p of processTree([child.pid!]).reverse()) process.kill(p.pid, "SIGKILL");
    }
  });
});

describe("startwm.sh and the recording gate", () => {
  const run = (script: string, display: string) => {
    const child = spawn("sh", ["-c", script], { env: { ...process.env, DISPLAY: display }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    return { exited: new Promise<string>((resolve) => child.on("exit", () => resolve(out))), child };
  };

  it("starts the desktop once the gate names this display; a gate for another display does not count until the wait ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lucid-gate-"));
    try {
      const gate = { file: join(dir, "user"), seconds: 30 };
      const waiting = run(startwm("echo desktop started", gate), ":171.0");
      let done = false;
      void waiting.exited.then(() => (done = true));
      writeFileSync(gate.file, ":172\n"); // another session's display
      // Not a condition: time must pass to show the desktop did NOT start for another display's gate.
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false);
      writeFileSync(gate.file, ":171\n");
      expect(await waiting.exited).toBe("desktop started\n");

      // Without a gate for it, the desktop still starts once the wait is over.
      rmSync(gate.file);
      expect(await run(startwm("echo late", { ...gate, seconds: 1 }), ":171").exited).toBe("late\n");
      expect(startwm("xterm", undefined)).toBe("#!/bin/sh\n# written by lucid-agent: the desktop of this xrdp session\nexec xterm\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
