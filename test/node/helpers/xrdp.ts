/**
 * A real xrdp server on loopback with a real xfreerdp client, as in the reference notes: copies of
 * /etc/xrdp/{xrdp,sesman}.ini (loopback port, own logs, no syslog), a local session user whose
 * startwm.sh opens an xterm, and xfreerdp on its own Xvfb. Needs root (it creates the user).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { until } from "./until.ts";
import { startXvfb, type Xvfb } from "./xvfb.ts";

export const SESSION_USER = "lucidrec";
const PASSWORD = "Rec0rd-pass-2026";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function userPids(): number[] {
  try {
    return execFileSync("ps", ["-u", SESSION_USER, "-o", "pid="], { encoding: "utf8" })
      .split("\n")
      .map(Number)
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when the user has no processes
  }
}

/** The X display of the user's xrdp session, once its Xorg runs. */
function sessionDisplay(): string | null {
  try {
    const args = execFileSync("ps", ["-u", SESSION_USER, "-o", "args="], { encoding: "utf8" });
    return /Xorg (:\d+)/.exec(args)?.[1] ?? null;
  } catch {
    return null;
  }
}

export interface XrdpSession {
  display: string;
  xauthority: string;
  stop(): Promise<void>;
}

/** `displays`: sesman's first session display, and the numbers the client's Xvfb may take. */
export async function startXrdpSession(
  dir: string,
  size: { width: number; height: number },
  displays: { sessionOffset: number; client: readonly number[] },
): Promise<XrdpSession> {
  const children: ChildProcess[] = [];
  let client: Xvfb | null = null;
  const stop = async () => {
    for (const child of children.reverse()) child.kill("SIGTERM");
    // The session: startwm, xterm, Xorg. One may exit between listing and signalling (ESRCH): fine.
    for (const pid of userPids()) {
      try {
        process.kill(pid, "SIGTERM");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
      }
    }
    await client?.stop();
  };
  try {
    try {
      execFileSync("id", [SESSION_USER], { stdio: "ignore" });
    } catch {
      execFileSync("useradd", ["-m", "-s", "/bin/sh", SESSION_USER]);
    }
    execFileSync("chpasswd", { input: `${SESSION_USER}:${PASSWORD}\n` });
    const home = `/home/${SESSION_USER}`;
    writeFileSync(join(home, "startwm.sh"), "#!/bin/sh\nxterm -geometry 40x10+0+0 &\nexec sleep infinity\n", { mode: 0o755 });
    const uid = Number(execFileSync("id", ["-u", SESSION_USER], { encoding: "utf8" }));
    chownSync(join(home, "startwm.sh"), uid, uid);
    mkdirSync("/run/xrdp/sockdir", { recursive: true });
    chmodSync("/run/xrdp/sockdir", 0o3777);

    const port = await freePort();
    const xrdpIni = readFileSync("/etc/xrdp/xrdp.ini", "utf8")
      .replace(/^port=3389$/m, `port=tcp://127.0.0.1:${port}`)
      .replace(/^LogFile=.*$/m, `LogFile=${join(dir, "xrdp.log")}`)
      .replace(/^EnableSyslog=.*$/gm, "EnableSyslog=false");
    const sesmanIni = readFileSync("/etc/xrdp/sesman.ini", "utf8")
      .replace(/^LogFile=.*$/m, `LogFile=${join(dir, "sesman.log")}`)
      .replace(/^X11DisplayOffset=.*$/m, `X11DisplayOffset=${displays.sessionOffset}`)
      .replace(/^EnableSyslog=.*$/gm, "EnableSyslog=false");
    writeFileSync(join(dir, "xrdp.ini"), xrdpIni);
    writeFileSync(join(dir, "sesman.ini"), sesmanIni);
    children.push(spawn("xrdp-sesman", ["-n", "-c", join(dir, "sesman.ini")], { stdio: "ignore" }));
    children.push(spawn("xrdp", ["-n", "-c", join(dir, "xrdp.ini")], { stdio: "ignore" }));

    client = await startXvfb(size.width + 200, size.height + 200, displays.client);
    const clientArgs = [
      `/v:127.0.0.1:${port}`,
      `/u:${SESSION_USER}`,
      `/p:${PASSWORD}`,
      "/cert:ignore",
      `/size:${size.width}x${size.height}`,
      "/bpp:32",
    ];
    let display: string | null = null;
    for (let attempt = 0; attempt < 3 && !display; attempt++) {
      // xrdp may not listen yet on the first try: the client then exits and we try again.
      const xfreerdp = spawn("xfreerdp", clientArgs, { env: { ...process.env, DISPLAY: client.display }, stdio: "ignore" });
      children.push(xfreerdp);
      const settled = () => {
        display = sessionDisplay();
        return display !== null || xfreerdp.exitCode !== null;
      };
      await until("an xrdp session or the client's exit", settled, { timeoutMs: 10_000, intervalMs: 100 }).catch(() => {});
    }
    if (!display) throw new Error(`no xrdp session came up; see ${dir}/xrdp.log and sesman.log`);
    return { display, xauthority: `${home}/.Xauthority`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
