/** Starts a real Xvfb on a free display number for a test, and paints known pixels on it. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { until } from "./until.ts";

export interface Xvfb {
  display: string;
  stop(): Promise<void>;
}

const paint = createRequire(import.meta.url)("../../../pi-agent/build/Release/lucid_test_support.node") as {
  putImage(display: string, x: number, y: number, w: number, h: number, bgrx: Buffer): string;
  canConnect(display: string): boolean;
  openWindow(display: string, x: number, y: number, w: number, h: number, bgrx: Buffer): number | string;
  closeWindow(id: number): void;
  copyArea(display: string, sx: number, sy: number, w: number, h: number, dx: number, dy: number): string;
  ownSelection(display: string, selection: string): number | string;
  warpPointer(display: string, x: number, y: number): string;
  setRootCursor(display: string, fontShape: number, secondShape?: number): number | string;
  cursorImage(display: string): XCursorImage | string;
};

/** What XFixesGetCursorImage says the screen shows; argb is little-endian u32 premultiplied ARGB. */
export interface XCursorImage {
  serial: number;
  width: number;
  height: number;
  xhot: number;
  yhot: number;
  x: number;
  y: number;
  argb: Buffer;
}

/** A display is taken while its lock names a live process (Xvfb itself clears a stale lock and socket). */
function displayInUse(n: number): boolean {
  const lock = `/tmp/.X${n}-lock`;
  if (!existsSync(lock)) return existsSync(`/tmp/.X11-unix/X${n}`);
  const pid = Number(readFileSync(lock, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `displays`: the numbers a test may use (default: any of 100–899). */
export async function startXvfb(width: number, height: number, displays?: readonly number[], extraArgs: string[] = []): Promise<Xvfb> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = displays ? displays[attempt % displays.length]! : 100 + Math.floor(Math.random() * 800);
    if (displayInUse(n)) continue;
    const proc: ChildProcess = spawn(
      "Xvfb",
      [`:${n}`, "-screen", "0", `${width}x${height}x24`, "-nolisten", "tcp", "-noreset", ...extraArgs],
      {
        stdio: "ignore",
      },
    );
    let exited = false;
    proc.on("exit", () => (exited = true));
    await until(`Xvfb on :${n}`, () => exited || paint.canConnect(`:${n}`), { timeoutMs: 5_000, intervalMs: 50 }).catch(() => {});
    if (exited || !paint.canConnect(`:${n}`)) {
      proc.kill("SIGKILL");
      continue; // lost a race for that number: try another
    }
    return {
      display: `:${n}`,
      stop: () =>
        new Promise<void>((resolve) => {
          if (exited) return resolve();
          proc.once("exit", () => resolve());
          proc.kill("SIGTERM");
        }),
    };
  }
  throw new Error(
    `could not start Xvfb ${displays ? `on any of :${displays.join(", :")}` : "on 20 random displays"} (is the xvfb package installed?)`,
  );
}

/** Draws a BGRX image at (x, y) on the root window and waits until the server has it. */
export function putImage(display: string, x: number, y: number, w: number, h: number, bgrx: Uint8Array): void {
  const err = paint.putImage(display, x, y, w, h, Buffer.from(bgrx.buffer, bgrx.byteOffset, bgrx.byteLength));
  if (err) throw new Error(err);
}

/** Maps an override-redirect window at (x, y) showing `bgrx`; returns a function that destroys it. */
export function openWindow(display: string, x: number, y: number, w: number, h: number, bgrx: Uint8Array): () => void {
  const id = paint.openWindow(display, x, y, w, h, Buffer.from(bgrx.buffer, bgrx.byteOffset, bgrx.byteLength));
  if (typeof id === "string") throw new Error(id);
  return () => paint.closeWindow(id);
}

/** Takes `selection` (CLIPBOARD, PRIMARY) with an owner that never answers; returns a function that lets it go. */
export function ownSelectionSilently(display: string, selection: string): () => void {
  const id = paint.ownSelection(display, selection);
  if (typeof id === "string") throw new Error(id);
  return () => paint.closeWindow(id);
}

/** Copies a screen area within the root window, server-side (as a scroll does). */
export function copyArea(display: string, sx: number, sy: number, w: number, h: number, dx: number, dy: number): void {
  const err = paint.copyArea(display, sx, sy, w, h, dx, dy);
  if (err) throw new Error(err);
}

/** Deterministic noise in BGRX (padding byte 0) and the same pixels packed as BGR. */
export function noise(w: number, h: number, seed: number): { bgrx: Uint8Array; bgr: Uint8Array } {
  const bgrx = new Uint8Array(w * h * 4);
  const bgr = new Uint8Array(w * h * 3);
  let s = seed >>> 0 || 1;
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      bgrx[p * 4 + c] = bgr[p * 3 + c] = s & 0xff;
    }
  }
  return { bgrx, bgr };
}

/**
 * Fills a `width`×`height` display with 0x30, then paints a 40×40 noise patch every 30 ms,
 * keeping a model of the whole screen (B, G, R) to compare recordings with.
 */
export function startPainter(display: string, width: number, height: number): { screen: Uint8Array<ArrayBuffer>; stop: () => void } {
  putImage(display, 0, 0, width, height, new Uint8Array(width * height * 4).fill(0x30));
  const screen = new Uint8Array(width * height * 3).fill(0x30);
  let seed = 1;
  const timer = setInterval(() => {
    const x = (seed * 37) % (width - 40);
    const y = (seed * 53) % (height - 40);
    const patch = noise(40, 40, seed++);
    putImage(display, x, y, 40, 40, patch.bgrx);
    for (let row = 0; row < 40; row++) screen.set(patch.bgr.subarray(row * 120, row * 120 + 120), ((y + row) * width + x) * 3);
  }, 30);
  return { screen, stop: () => clearInterval(timer) };
}

/** Moves the pointer to (x, y) on the root window, as a mouse would, and waits until the server has it. */
export function warpPointer(display: string, x: number, y: number): void {
  const err = paint.warpPointer(display, x, y);
  if (err) throw new Error(err);
}

/** The cursor font's glyphs that setRootCursor takes (X11/cursorfont.h). */
export const CursorFont = { leftPtr: 68, watch: 150, xterm: 152 } as const;

const rootCursors = new Map<string, number>();

/**
 * Shows a cursor font glyph over the root window (alternating with `animatedWith` every 50 ms, as
 * a busy cursor animates), kept allocated (as applications keep the cursors
 * they show) until the next call for that display replaces it, or releaseRootCursor().
 */
export function setRootCursor(display: string, fontShape: number, animatedWith?: number): void {
  const id = animatedWith === undefined ? paint.setRootCursor(display, fontShape) : paint.setRootCursor(display, fontShape, animatedWith);
  if (typeof id === "string") throw new Error(id);
  releaseRootCursor(display);
  rootCursors.set(display, id);
}

/** Lets the connection holding the root cursor go (before the display stops). */
export function releaseRootCursor(display: string): void {
  const previous = rootCursors.get(display);
  if (previous !== undefined) paint.closeWindow(previous);
  rootCursors.delete(display);
}

/** The cursor the server shows now, from XFixes. */
export function cursorImage(display: string): XCursorImage {
  const image = paint.cursorImage(display);
  if (typeof image === "string") throw new Error(image);
  return image;
}
