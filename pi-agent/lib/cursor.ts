/**
 * The pointer of a recorded X display as recording events (stream version 2): its shape from
 * XFixes, sent when the displayed cursor changes, and its position, read at most once a recorder
 * tick and sent when it moved. A shape already sent in the chunk is sent as a reference to its
 * serial (cursor-cached): an animated cursor cycles through its frames ten times a second. X's
 * GetImage never includes the cursor, so the recorded pixels stay cursor-free ("decoded equals the
 * screen" holds) and players draw the cursor from these events.
 */
import type { CursorShape, RecordingEvent } from "../../shared/recording/index.ts";
import { openNativeCursor, type NativeCursor } from "./native.ts";
import type { EventSource } from "./recorder.ts";

export interface CursorInfo {
  /** false when the X server has no XFIXES: no cursor events are recorded */
  available: boolean;
  /** why the cursor is not recorded, or "" */
  note: string;
}

type Timed = { epochMs: number; event: RecordingEvent };

export class CursorSource implements EventSource {
  private readonly handle: NativeCursor;
  private readonly onError: (message: string) => void;
  private shape: CursorShape | null = null;
  private position: { x: number; y: number } | null = null;
  private pending: Timed[] = [];
  /** the serials of the shapes sent in full in the open chunk (snapshot() opens a chunk) */
  private sent = new Set<number>();
  private failed = false;

  private constructor(handle: NativeCursor, onError: (message: string) => void) {
    this.handle = handle;
    this.onError = onError;
  }

  /**
   * Opens the cursor of `display` on its own X connection. `onError` hears once why the cursor
   * stopped being recorded (the display went away); the pixels' capture reports that too.
   */
  static openX11(display: string, onError: (message: string) => void = () => {}): CursorSource {
    return new CursorSource(openNativeCursor(display), onError);
  }

  info(): CursorInfo {
    return this.handle.info();
  }

  /** One look at the pointer: a new shape and a move become pending events. */
  private poll(): void {
    if (this.failed || !this.handle.info().available) return;
    const epochMs = Date.now();
    const value = this.handle.poll();
    if (!value.ok) {
      this.failed = true;
      this.onError(value.error);
      return;
    }
    if (value.shape) {
      const { serial, width, height, xhot, yhot, argb } = value.shape;
      this.shape = { serial, width, height, xhot, yhot, argb: new Uint8Array(argb.buffer, argb.byteOffset, argb.byteLength) };
      if (this.sent.has(serial)) this.pending.push({ epochMs, event: { kind: "cursor-cached", serial } });
      else {
        this.sent.add(serial);
        this.pending.push({ epochMs, event: { kind: "cursor-shape", ...this.shape } });
      }
    }
    if (value.moved) {
      this.position = { x: value.x, y: value.y };
      this.pending.push({ epochMs, event: { kind: "cursor-move", ...this.position } });
    }
  }

  drain(): Timed[] {
    this.poll();
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /**
   * The shape and position now, for a chunk that opens: what happened before is covered by it, so
   * nothing stays pending, and shapes sent in earlier chunks are sent in full again when they return.
   */
  snapshot(): RecordingEvent[] {
    this.poll();
    this.pending = [];
    this.sent = new Set(this.shape ? [this.shape.serial] : []);
    const out: RecordingEvent[] = [];
    if (this.shape) out.push({ kind: "cursor-shape", ...this.shape });
    if (this.position) out.push({ kind: "cursor-move", ...this.position });
    return out;
  }

  close(): void {
    this.handle.close();
  }
}
