/**
 * Shows a message on a session's X display: an `xmessage` window (x11-utils), centred, with an OK
 * button, closing itself after `timeoutSeconds`. It counts as shown once the window exists on the
 * display (found by its unique instance name with `xwininfo`), so the caller can ack honestly;
 * the returned handle closes it again (a retracted broadcast).
 */
import { execFile, spawn } from "node:child_process";

export interface DesktopTarget {
  display: string;
  /** The session's X authority file (the session user's ~/.Xauthority). */
  xauthority?: string;
}

export interface DesktopNotice {
  level: "info" | "warning" | "critical";
  title: string;
  body: string;
}

/** A notice window on a desktop. */
export interface ShownNotice {
  readonly display: string;
  /** Whether the window is still up (not closed by the user, its timeout or `close`). */
  readonly open: boolean;
  /** Takes the window off the desktop; nothing when it is gone already. */
  close(): void;
}

let counter = 0;

/** Printable text only: no control characters but newlines, at most `max` characters. */
export function plainText(text: string, max: number): string {
  return text.replace(/[^\P{C}\n]/gu, " ").slice(0, max);
}

function windowNames(env: NodeJS.ProcessEnv, display: string): Promise<string> {
  return new Promise((resolve) => {
    execFile("xwininfo", ["-display", display, "-root", "-tree"], { env, timeout: 5000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout) =>
      resolve(error ? "" : stdout),
    );
  });
}

const TAG = /^[a-z0-9]{1,32}$/;

function displayEnv(target: DesktopTarget): NodeJS.ProcessEnv {
  if (!/^:\d{1,5}$/.test(target.display)) throw new Error(`not an X display: ${target.display}`);
  return { ...process.env, DISPLAY: target.display, ...(target.xauthority ? { XAUTHORITY: target.xauthority } : {}) };
}

/**
 * Resolves once the window is on the display; rejects if xmessage fails or it never appears.
 * `tag` (e.g. "b42" for broadcast 42) goes into the window's instance name, so that
 * closeDesktopNotices can find the window again, even from another agent process.
 */
export async function showDesktopNotice(
  target: DesktopTarget,
  notice: DesktopNotice,
  options: { timeoutSeconds?: number; confirmMs?: number; tag?: string } = {},
): Promise<ShownNotice> {
  const env = displayEnv(target);
  if (options.tag !== undefined && !TAG.test(options.tag)) throw new Error(`not a notice tag: ${options.tag}`);
  const name = `lucid-notice-${options.tag ?? "n"}-${process.pid}-${++counter}`;
  // The text starts with "[": xmessage cannot take it for an option.
  const text = `[${notice.level}] ${plainText(notice.title, 200)}\n\n${plainText(notice.body, 2000)}`;
  const args = [
    "-name",
    name,
    "-title",
    `Lucid: ${plainText(notice.title, 120).replace(/\n/g, " ")}`,
    "-center",
    "-buttons",
    "OK:0",
    "-timeout",
    String(options.timeoutSeconds ?? 3600),
    text,
  ];
  const child = spawn("xmessage", args, { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8").slice(0, 500)));
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (error) => reject(new Error(`xmessage could not start: ${error.message}`)));
    child.once("exit", (code) => reject(new Error(`xmessage exited (${code}) before showing: ${stderr.trim() || "no output"}`)));
  });
  failed.catch(() => {});
  const deadline = Date.now() + (options.confirmMs ?? 5000);
  while (Date.now() < deadline) {
    const shown = await Promise.race([windowNames(env, target.display).then((tree) => tree.includes(`("${name}" `)), failed]);
    if (shown) {
      // Left on the desktop until the user clicks OK, it times out or it is closed; the agent does not wait for it.
      child.stderr!.destroy();
      child.unref();
      let open = child.exitCode === null && child.signalCode === null;
      child.once("exit", () => (open = false));
      return {
        display: target.display,
        get open() {
          return open;
        },
        // Only while our own child runs: once it has exited its pid may belong to another process.
        close() {
          if (open) child.kill("SIGTERM");
        },
      };
    }
    await Promise.race([new Promise((r) => setTimeout(r, 100)), failed]);
  }
  child.kill("SIGKILL");
  throw new Error(`the notice window did not appear on ${target.display}`);
}

/**
 * Closes every notice window tagged `tag` on the display (those an earlier agent process showed
 * included): each is found by its instance name and its xmessage client disconnected with xkill.
 * Returns how many were closed.
 */
export async function closeDesktopNotices(target: DesktopTarget, tag: string): Promise<number> {
  const env = displayEnv(target);
  if (!TAG.test(tag)) throw new Error(`not a notice tag: ${tag}`);
  const ids = [
    ...(await windowNames(env, target.display)).matchAll(new RegExp(`^\\s*(0x[0-9a-f]+) .*\\("lucid-notice-${tag}-\\d+-\\d+" `, "gm")),
  ].map((m) => m[1]!);
  for (const id of ids) {
    await new Promise<void>((resolve) =>
      execFile("xkill", ["-display", target.display, "-id", id], { env, timeout: 5000 }, () => resolve()),
    );
  }
  return ids.length;
}
