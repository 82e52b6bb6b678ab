/**
 * Typed wrapper over the native capture addon (pi-agent/src). Arguments are validated here, the
 * addon returns errors as values, and they are thrown with the caller's stack attached.
 */
import { createRequire } from "node:module";

export interface CaptureInfo {
  width: number;
  height: number;
  /** true when frames travel through MIT-SHM, false for the slow XGetImage path */
  shm: boolean;
  /** true when only what the X server reports as drawn (DAMAGE) is grabbed; false: whole frames every tick */
  damage: boolean;
  /** why capture is on a slower path, or "" */
  note: string;
  /** what the source delivers before conversion to BGRX: "BGRX" for X11, "YUYV"/"MJPG" for V4L2 */
  pixelFormat: string;
}

/** `grabbedPixels`: what this tick read from the screen (0 when the X server reported nothing drawn). */
export type CaptureResult =
  | {
      type: "keyframe" | "delta";
      epochMs: number;
      width: number;
      height: number;
      changedTiles: number;
      grabbedPixels: number;
      body: Buffer;
    }
  | { type: "none"; epochMs: number; width: number; height: number; changedTiles: 0; grabbedPixels: number };

type NativeValue<T> = ({ ok: true } & T) | { ok: false; error: string };
interface NativeCapture {
  info(): CaptureInfo;
  next(keyframe: boolean, tileSize: number): Promise<NativeValue<CaptureResult>>;
  close(): NativeValue<object>;
}
interface NativeInput {
  drain(): NativeValue<{ events: NativeInputEvent[] }>;
  close(): NativeValue<object>;
}
/** The pointer of a display (src/x11_cursor.h); pi-agent/lib/cursor.ts wraps it. */
export interface NativeCursor {
  info(): { available: boolean; note: string };
  poll(): NativeValue<{
    moved: boolean;
    x: number;
    y: number;
    shape?: { serial: number; width: number; height: number; xhot: number; yhot: number; argb: Buffer };
  }>;
  close(): NativeValue<object>;
}
interface NativeAddon {
  openX11(display: string, allowShm: boolean, allowDamage: boolean): NativeValue<{ capture: NativeCapture }>;
  openInput(display: string, full: boolean): NativeValue<{ input: NativeInput }>;
  openCursor(display: string): NativeValue<{ cursor: NativeCursor }>;
  openV4l2(path: string, width: number, height: number): NativeValue<{ capture: NativeCapture }>;
}

export class CaptureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaptureError";
  }
}

const require = createRequire(import.meta.url);
const BINARY_CANDIDATES = ["../build/Release/lucid_capture.node", "../build/Debug/lucid_capture.node"];

function loadAddon(): NativeAddon {
  const failures: string[] = [];
  for (const candidate of BINARY_CANDIDATES) {
    try {
      return require(candidate) as NativeAddon;
    } catch (err) {
      failures.push(`${candidate}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new CaptureError(
    [
      "The lucid-agent native capture addon is not built or cannot load.",
      ...failures.map((f) => `  tried ${f}`),
      "Fixes: install the build deps (build-essential python3 libx11-dev libxext-dev libxdamage-dev libxfixes-dev libxi-dev libxkbcommon-dev),",
      "then run `npm ci` (or `npx node-gyp rebuild --nodedir=/usr` inside pi-agent/).",
    ].join("\n"),
  );
}

let addon: NativeAddon | null = null;
function native(): NativeAddon {
  addon ??= loadAddon();
  return addon;
}

/** null when the addon loads, else the message saying why not and how to fix it. */
export function addonLoadError(): string | null {
  try {
    native();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Whether the capture addon loads here (the recorder's health in heartbeats). */
export function captureAvailable(): boolean {
  return addonLoadError() === null;
}

function unwrap<T>(value: NativeValue<T>): T {
  if (value.ok) return value;
  // Built only on failure: capturing a stack on every call cost the recorder a measurable share of
  // its main thread (once a frame). After an await, V8's async stack traces still name the caller.
  const err = new CaptureError(value.error);
  Error.captureStackTrace(err, unwrap);
  throw err;
}

const DISPLAY_NAME = /^[A-Za-z0-9._-]*:\d{1,5}(\.\d{1,3})?$/;

/** Opens the pointer of X display `display` on a connection of its own (see lib/cursor.ts). */
export function openNativeCursor(display: string): NativeCursor {
  if (!DISPLAY_NAME.test(display)) throw new CaptureError(`"${display}" is not an X display name like :0 or host:10.0`);
  return unwrap(native().openCursor(display)).cursor;
}

/** A capture of one X display's root window or one V4L2 device. One next() at a time. */
export class ScreenCapture {
  private readonly handle: NativeCapture;

  private constructor(handle: NativeCapture) {
    this.handle = handle;
  }

  /**
   * Opens `display`; `shm: false` forces the slow XGetImage path (MIT-SHM is used when possible
   * otherwise); `damage: false` grabs whole frames every tick instead of only what the X server
   * reports as drawn (the polling capture: a fallback and the benches' baseline).
   */
  static openX11(display: string, options: { shm?: boolean; damage?: boolean } = {}): ScreenCapture {
    if (!DISPLAY_NAME.test(display)) throw new CaptureError(`"${display}" is not an X display name like :0 or host:10.0`);
    return new ScreenCapture(unwrap(native().openX11(display, options.shm ?? true, options.damage ?? true)).capture);
  }

  /**
   * Opens a V4L2 device (MMAP streaming, YUYV preferred, else MJPEG) asking for width x height; the
   * driver may choose the nearest size, which info() reports.
   */
  static openV4l2(path: string, size: { width: number; height: number }): ScreenCapture {
    if (!/^\/dev\/[A-Za-z0-9/_-]+$/.test(path)) throw new CaptureError(`"${path}" is not a device path like /dev/video0`);
    for (const n of [size.width, size.height]) {
      if (!Number.isInteger(n) || n < 1 || n > 0xffff) throw new CaptureError("V4L2 width and height must be 1..65535");
    }
    return new ScreenCapture(unwrap(native().openV4l2(path, size.width, size.height)).capture);
  }

  info(): CaptureInfo {
    return this.handle.info();
  }

  /** Grabs a frame and returns its record body: a keyframe if asked (or after a resize), else the changed tiles. */
  async next(options: { keyframe: boolean; tileSize: number }): Promise<CaptureResult> {
    return unwrap(await this.handle.next(options.keyframe, options.tileSize));
  }

  close(): void {
    unwrap(this.handle.close());
  }
}

/**
 * What the native interaction capture reports. `text` of a key and of a clipboard change exist
 * only when it was opened for the `full` policy; otherwise no keycode is ever looked up.
 */
export type NativeInputEvent =
  | { type: "key"; epochMs: number; text?: string }
  | { type: "click"; epochMs: number; button: number; x: number; y: number }
  | { type: "focus"; epochMs: number; title: string; class: string }
  | { type: "clipboard"; epochMs: number; selection: "CLIPBOARD" | "PRIMARY"; bytes: number; text?: string };

/**
 * Interaction on an X display, on its own connection (pi-agent/src/x11_input.cc): key presses,
 * pointer buttons, the focused window, selection changes. drain() never waits on another client.
 */
export class InputCapture {
  private readonly handle: NativeInput;

  private constructor(handle: NativeInput) {
    this.handle = handle;
  }

  /** Opens `display` for `metadata` (counts and sizes, never text) or `full` (typed and copied text too). */
  static openX11(display: string, policy: "metadata" | "full"): InputCapture {
    if (!DISPLAY_NAME.test(display)) throw new CaptureError(`"${display}" is not an X display name like :0 or host:10.0`);
    if (policy !== "metadata" && policy !== "full") throw new CaptureError(`interaction policy "${String(policy)}" opens no capture`);
    return new InputCapture(unwrap(native().openInput(display, policy === "full")).input);
  }

  /** What happened since the last call, oldest first. */
  drain(): NativeInputEvent[] {
    return unwrap(this.handle.drain()).events;
  }

  close(): void {
    unwrap(this.handle.close());
  }
}
