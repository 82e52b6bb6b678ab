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
  /** why capture is on a slower path, or "" */
  note: string;
}

export type CaptureResult =
  | { type: "keyframe" | "delta"; epochMs: number; width: number; height: number; changedTiles: number; body: Buffer }
  | { type: "none"; epochMs: number; width: number; height: number; changedTiles: 0 };

type NativeValue<T> = ({ ok: true } & T) | { ok: false; error: string };
interface NativeCapture {
  info(): CaptureInfo;
  next(keyframe: boolean, tileSize: number): Promise<NativeValue<CaptureResult>>;
  close(): NativeValue<object>;
}
interface NativeAddon {
  openX11(display: string, allowShm: boolean): NativeValue<{ capture: NativeCapture }>;
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
      "Fixes: install the build deps (build-essential python3 libx11-dev libxext-dev),",
      "then run `npm ci` (or `npx node-gyp rebuild --nodedir=/usr` inside pi-agent/).",
    ].join("\n"),
  );
}

let addon: NativeAddon | null = null;
function native(): NativeAddon {
  addon ??= loadAddon();
  return addon;
}

function unwrap<T>(value: NativeValue<T>, stackFrom: Error): T {
  if (value.ok) return value;
  const err = new CaptureError(value.error);
  err.stack = `CaptureError: ${value.error}\n${stackFrom.stack?.split("\n").slice(1).join("\n") ?? ""}`;
  throw err;
}

const DISPLAY_NAME = /^[A-Za-z0-9._-]*:\d{1,5}(\.\d{1,3})?$/;

/** A capture of one X display's root window. One next() at a time. */
export class X11Capture {
  private readonly handle: NativeCapture;

  private constructor(handle: NativeCapture) {
    this.handle = handle;
  }

  /** Opens `display`; `shm: false` forces the slow XGetImage path (MIT-SHM is used when possible otherwise). */
  static open(display: string, options: { shm?: boolean } = {}): X11Capture {
    if (!DISPLAY_NAME.test(display)) throw new CaptureError(`"${display}" is not an X display name like :0 or host:10.0`);
    return new X11Capture(unwrap(native().openX11(display, options.shm ?? true), new Error()).capture);
  }

  info(): CaptureInfo {
    return this.handle.info();
  }

  /** Grabs a frame and returns its record body: a keyframe if asked (or after a resize), else the changed tiles. */
  async next(options: { keyframe: boolean; tileSize: number }): Promise<CaptureResult> {
    const stackFrom = new Error();
    return unwrap(await this.handle.next(options.keyframe, options.tileSize), stackFrom);
  }

  close(): void {
    unwrap(this.handle.close(), new Error());
  }
}
