import type { DecodedFrame } from "./decoder.ts";
import { decodeRecording } from "./decoder.ts";
import { RECORD_HEADER_BYTES, RecordType, STREAM_HEADER_BYTES } from "./format.ts";
import { decodeEvents, type CursorShape, type RecordingEvent, type TimedRecordingEvent } from "./events.ts";

/**
 * Playing the cursor back: recordings hold cursor-free pixels and the pointer as events
 * (cursor-shape, cursor-cached, cursor-move). These pure helpers follow those events alongside the frames and
 * draw the cursor over a copy of a frame, for the dashboard's player and `lucid-agent decode --cursor`.
 */

/** Where the pointer is and what it looks like; each null until the recording names it. */
export interface CursorState {
  position: { x: number; y: number } | null;
  shape: CursorShape | null;
}

export const NO_CURSOR: CursorState = { position: null, shape: null };

/**
 * Follows one chunk's cursor events: the state after each, with the shapes sent so far in the chunk
 * (by serial) for the cursor-cached events that name them again.
 */
export class CursorTrack {
  state: CursorState = NO_CURSOR;
  private readonly shapes = new Map<number, CursorShape>();

  apply(event: RecordingEvent): CursorState {
    if (event.kind === "cursor-move") this.state = { position: { x: event.x, y: event.y }, shape: this.state.shape };
    else if (event.kind === "cursor-shape") {
      const { serial, width, height, xhot, yhot, argb } = event;
      const shape = { serial, width, height, xhot, yhot, argb };
      this.shapes.set(serial, shape);
      this.state = { position: this.state.position, shape };
    } else if (event.kind === "cursor-cached") {
      // A serial the chunk never sent (a damaged or foreign stream) leaves the shape as it was.
      const shape = this.shapes.get(event.serial);
      if (shape) this.state = { position: this.state.position, shape };
    }
    return this.state;
  }
}

/** The cursor after every event of one chunk up to and including `epochMs`. */
export function cursorAt(events: readonly TimedRecordingEvent[], epochMs: number): CursorState {
  const track = new CursorTrack();
  for (const event of events) {
    if (event.epochMs > epochMs) break;
    track.apply(event);
  }
  return track.state;
}

/**
 * Draws the cursor into `pixels` (width×height, `channels` 3 for the recording's B, G, R or 4 for
 * a canvas's R, G, B, A) with its hot spot at (x, y), clipped to the frame. Cursor pixels are
 * premultiplied ARGB, so each channel is src + dst × (255 − alpha) / 255 (src-over).
 */
export function drawCursor(pixels: Uint8Array, width: number, height: number, channels: 3 | 4, state: CursorState): void {
  const { shape, position } = state;
  if (!shape || !position) return;
  // Byte offsets of red, green and blue in one destination pixel.
  const [r, g, b] = channels === 3 ? [2, 1, 0] : [0, 1, 2];
  const left = position.x - shape.xhot;
  const top = position.y - shape.yhot;
  for (let cy = Math.max(0, -top); cy < shape.height && top + cy < height; cy++) {
    for (let cx = Math.max(0, -left); cx < shape.width && left + cx < width; cx++) {
      const s = (cy * shape.width + cx) * 4; // little-endian ARGB: B, G, R, A
      const alpha = shape.argb[s + 3]!;
      if (alpha === 0 && shape.argb[s]! === 0 && shape.argb[s + 1]! === 0 && shape.argb[s + 2]! === 0) continue;
      const d = ((top + cy) * width + left + cx) * channels;
      const keep = 255 - alpha;
      pixels[d + b] = Math.min(255, shape.argb[s]! + Math.round((pixels[d + b]! * keep) / 255));
      pixels[d + g] = Math.min(255, shape.argb[s + 1]! + Math.round((pixels[d + g]! * keep) / 255));
      pixels[d + r] = Math.min(255, shape.argb[s + 2]! + Math.round((pixels[d + r]! * keep) / 255));
    }
  }
}

/** One moment of playback: the frame's pixels (reused: copy to keep) and the cursor over them. */
export interface PlaybackFrame {
  frame: DecodedFrame;
  /** ms since the stream's start and wall-clock ms of this moment (a cursor event's time when only the cursor changed) */
  t: number;
  epochMs: number;
  cursor: CursorState;
  /** false when only the cursor changed since the previous moment */
  pixelsChanged: boolean;
}

/**
 * Every moment of one stream in time order: each pixel record, and each cursor change between
 * them (events at one time coalesced), with the cursor as of that moment. A frame shows every event
 * at or before its time, so a chunk's opening cursor snapshot is there with its first keyframe.
 */
export function* decodeWithCursor(bytes: Uint8Array): Generator<PlaybackFrame> {
  const events = decodeEvents(bytes).filter((e) => e.kind !== "interaction");
  const times = pixelRecordTimes(bytes);
  let next = 0;
  const track = new CursorTrack();
  let previous: DecodedFrame | null = null;
  // Cursor changes before `limit`, shown over the previous frame: yielded before the decoder moves
  // on, since it reuses one pixel buffer.
  function* cursorUntil(limit: number): Generator<PlaybackFrame> {
    while (next < events.length && events[next]!.t < limit) {
      const t = events[next]!.t;
      while (next < events.length && events[next]!.t === t) track.apply(events[next++]!);
      if (previous) yield { frame: previous, t, epochMs: previous.epochMs - previous.t + t, cursor: track.state, pixelsChanged: false };
    }
  }
  const frames = decodeRecording(bytes);
  for (const t of times) {
    yield* cursorUntil(t);
    const { value: frame, done } = frames.next();
    if (done) break;
    while (next < events.length && events[next]!.t <= frame.t) track.apply(events[next++]!);
    previous = frame;
    yield { frame, t: frame.t, epochMs: frame.epochMs, cursor: track.state, pixelsChanged: true };
  }
  yield* cursorUntil(Infinity);
}

/** The time of every pixel record, from the record headers alone. */
function pixelRecordTimes(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const times: number[] = [];
  for (let o = STREAM_HEADER_BYTES; o + RECORD_HEADER_BYTES <= bytes.length; o += RECORD_HEADER_BYTES + view.getUint32(o + 5, true)) {
    if (bytes[o] !== RecordType.event) times.push(view.getUint32(o + 1, true));
  }
  return times;
}
