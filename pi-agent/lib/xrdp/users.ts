/**
 * Session users for xrdp servers: created (or reused) with the one-time password the control plane
 * sends, a startwm.sh that runs the configured desktop, and locked again when the server stops.
 * Only users this agent created (marked in their GECOS field) are ever deleted.
 */
import { execFileSync } from "node:child_process";
import { chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allProcesses } from "../node/proc-stats.ts";

export const AGENT_GECOS = "lucid-agent session user";

export interface SessionUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  createdByAgent: boolean;
}

function passwdEntry(name: string): string[] | null {
  try {
    return execFileSync("getent", ["passwd", name], { encoding: "utf8" }).trim().split(":");
  } catch {
    return null; // getent exits 2 for an unknown user
  }
}

export function lookupUser(name: string): SessionUser | null {
  const entry = passwdEntry(name);
  if (!entry) return null;
  return { name, uid: Number(entry[2]), gid: Number(entry[3]), home: entry[5]!, createdByAgent: (entry[4] ?? "").startsWith(AGENT_GECOS) };
}

/**
 * The recording gate: a root-owned file holding the display (":N") the agent records for a user. The
 * user's startwm.sh waits for it before starting the desktop, so the recording holds the session from
 * before its first drawing; after `seconds` without it the desktop starts anyway (and is recorded late).
 */
export interface RecordingGate {
  file: string;
  seconds: number;
}

/** Creates the user if needed, sets its password and desktop start script; refuses system accounts. */
export function provisionUser(name: string, password: string, desktop: string, gate?: RecordingGate): SessionUser {
  if (!passwdEntry(name)) execFileSync("useradd", ["-m", "-s", "/bin/sh", "-c", AGENT_GECOS, name]);
  const user = lookupUser(name)!;
  if (user.uid < 1000) throw new Error(`refusing to use system account ${name} (uid ${user.uid}) as a session user`);
  execFileSync("chpasswd", { input: `${name}:${password}\n` });
  execFileSync("usermod", ["-U", name], { stdio: "ignore" });
  const script = join(user.home, "startwm.sh");
  writeFileSync(script, startwm(desktop, gate), { mode: 0o755 });
  chownSync(script, user.uid, user.gid);
  return user;
}

/** Ends every process of the user (its xrdp session) and locks its password (the one-time credential is spent). */
export function endUserSession(user: SessionUser): void {
  for (const p of allProcesses()) {
    if (p.uid !== user.uid) continue;
    try {
      process.kill(p.pid, "SIGTERM");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
  execFileSync("usermod", ["-L", user.name], { stdio: "ignore" });
}

/** Removes the user and its home, if this agent created it. */
export function removeUser(user: SessionUser): boolean {
  if (!user.createdByAgent) return false;
  execFileSync("userdel", ["-r", "-f", user.name], { stdio: "ignore" });
  return true;
}

/** The X display (":N") the user's session server (Xorg, or Xvnc — TigerVNC's is named Xtigervnc) runs, once it does. */
export function sessionDisplay(uid: number, processes = allProcesses()): { display: string; pid: number } | null {
  for (const p of processes) {
    if (p.uid !== uid || !/^(Xorg|Xvnc|Xtigervnc)$/.test(p.command)) continue;
    const display = p.args.find((a) => /^:\d+$/.test(a));
    if (display) return { display, pid: p.pid };
  }
  return null;
}

/** The session's startwm.sh: waits for the recording gate (if any), then execs the desktop. */
export function startwm(desktop: string, gate: RecordingGate | undefined): string {
  const lines = ["#!/bin/sh", "# written by lucid-agent: the desktop of this xrdp session"];
  if (gate) {
    lines.push(
      `# Start the desktop once lucid-agent records this display (at most ${gate.seconds} s from now).`,
      "i=0",
      `while [ "$(cat '${gate.file}' 2>/dev/null)" != "\${DISPLAY%.*}" ] && [ $i -lt ${gate.seconds * 20} ]; do sleep 0.05; i=$((i+1)); done`,
    );
  }
  lines.push(`exec ${desktop}`, "");
  return lines.join("\n");
}
