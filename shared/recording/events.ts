import { z } from "zod";
import { decodeStreamHeader } from "./decoder.ts";
import { encodeRecord } from "./encoder.ts";
import { RECORD_HEADER_BYTES, RecordType, RecordingFormatError, STREAM_HEADER_BYTES } from "./format.ts";

/**
 * Event records (recording stream version 2, record type 3): what happened on the display beside
 * the pixels. An event body is `kind u8` then the kind's payload:
 *
 *   1 cursor-move    x i16, y i16: the pointer's hot spot on the screen
 *   2 cursor-shape   serial u32, width u16, height u16, xhot u16, yhot u16, then width*height
 *                    pixels, each a little-endian u32 premultiplied ARGB (XFixes' own layout)
 *   3 interaction    a UTF-8 JSON object, one of InteractionEvent (below)
 *   4 cursor-cached  serial u32: the cursor shows again the shape with this serial, sent earlier in
 *                    the same chunk (an animated cursor cycling through its frames, a pointer going
 *                    back and forth between two windows); a chunk never refers to another chunk
 *
 * Each chunk is self-contained: a recorder repeats the current cursor shape, position and focus
 * right after the chunk's first keyframe. Events are sealed with the chunk like the pixels.
 */
export const EventKind = { cursorMove: 1, cursorShape: 2, interaction: 3, cursorCached: 4 } as const;

/** Interaction policy of a session, chosen at creation: what the recorder may record of input. */
export const INTERACTION_POLICIES = ["none", "metadata", "full"] as const;
export const InteractionPolicy = z.enum(INTERACTION_POLICIES);
export type InteractionPolicy = z.infer<typeof InteractionPolicy>;

const text = (max: number) => z.string().max(max);
/**
 * One interaction event. Under `metadata` a recorder writes focus, click, keys (counts), and
 * clipboard sizes; under `full` also `text` and clipboard `text`; under `none` none of them.
 */
export const InteractionEvent = z.discriminatedUnion("type", [
  /** The focused top-level window changed (or its title did). */
  z.object({ type: z.literal("focus"), title: text(1024), class: text(256) }).strict(),
  /** A pointer button went down. */
  z.object({ type: z.literal("click"), button: z.number().int().min(1).max(255), x: z.number().int(), y: z.number().int() }).strict(),
  /** Key presses since the previous keys event (metadata: how much, never which). */
  z.object({ type: z.literal("keys"), count: z.number().int().min(1) }).strict(),
  /** Typed text since the previous text event (`full` only). */
  z.object({ type: z.literal("text"), text: text(4096) }).strict(),
  /** A selection got a new owner: its size, and its text under `full`. */
  z
    .object({
      type: z.literal("clipboard"),
      selection: z.enum(["CLIPBOARD", "PRIMARY"]),
      bytes: z.number().int().min(0),
      text: text(65536).optional(),
    })
    .strict(),
]);
export type InteractionEvent = z.infer<typeof InteractionEvent>;

export interface CursorShape {
  serial: number;
  width: number;
  height: number;
  xhot: number;
  yhot: number;
  /** width*height little-endian u32 premultiplied ARGB, as 4 bytes each. */
  argb: Uint8Array;
}

export type RecordingEvent =
  | { kind: "cursor-move"; x: number; y: number }
  | ({ kind: "cursor-shape" } & CursorShape)
  | { kind: "cursor-cached"; serial: number }
  | { kind: "interaction"; event: InteractionEvent };

export type TimedRecordingEvent = RecordingEvent & { t: number; epochMs: number };

/** Which interaction event types a policy allows a recorder to write. */
export function policyAllows(policy: InteractionPolicy, event: InteractionEvent): boolean {
  if (policy === "none") return false;
  if (policy === "full") return true;
  if (event.type === "text") return false;
  return !(event.type === "clipboard" && event.text !== undefined);
}

export function encodeEventBody(event: RecordingEvent): Uint8Array {
  if (event.kind === "cursor-move") {
    const out = new Uint8Array(5);
    const view = new DataView(out.buffer);
    out[0] = EventKind.cursorMove;
    view.setInt16(1, event.x, true);
    view.setInt16(3, event.y, true);
    return out;
  }
  if (event.kind === "cursor-cached") {
    const out = new Uint8Array(5);
    out[0] = EventKind.cursorCached;
    new DataView(out.buffer).setUint32(1, event.serial >>> 0, true);
    return out;
  }
  if (event.kind === "cursor-shape") {
    const { serial, width, height, xhot, yhot, argb } = event;
    if (argb.length !== width * height * 4) throw new RangeError(`cursor of ${width}x${height} needs ${width * height * 4} bytes`);
    const out = new Uint8Array(13 + argb.length);
    const view = new DataView(out.buffer);
    out[0] = EventKind.cursorShape;
    view.setUint32(1, serial >>> 0, true);
    view.setUint16(5, width, true);
    view.setUint16(7, height, true);
    view.setUint16(9, xhot, true);
    view.setUint16(11, yhot, true);
    out.set(argb, 13);
    return out;
  }
  const json = new TextEncoder().encode(JSON.stringify(InteractionEvent.parse(event.event)));
  const out = new Uint8Array(1 + json.length);
  out[0] = EventKind.interaction;
  out.set(json, 1);
  return out;
}

/** One whole event record (header + body), ready to append to a version-2 stream. */
export function encodeEventRecord(t: number, event: RecordingEvent): Uint8Array {
  return encodeRecord(RecordType.event, t, encodeEventBody(event));
}

/** Decodes one event body; unknown kinds give null (a newer recorder's event this reader skips). */
export function decodeEventBody(body: Uint8Array, at = 0): RecordingEvent | null {
  if (body.length < 1) throw new RecordingFormatError("empty event body", at);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const kind = body[0];
  if (kind === EventKind.cursorMove) {
    if (body.length !== 5) throw new RecordingFormatError("cursor-move body is not 5 bytes", at);
    return { kind: "cursor-move", x: view.getInt16(1, true), y: view.getInt16(3, true) };
  }
  if (kind === EventKind.cursorShape) {
    if (body.length < 13) throw new RecordingFormatError("cursor-shape body too short", at);
    const width = view.getUint16(5, true);
    const height = view.getUint16(7, true);
    if (body.length !== 13 + width * height * 4)
      throw new RecordingFormatError(`cursor-shape of ${width}x${height} has the wrong size`, at);
    return {
      kind: "cursor-shape",
      serial: view.getUint32(1, true),
      width,
      height,
      xhot: view.getUint16(9, true),
      yhot: view.getUint16(11, true),
      argb: body.slice(13),
    };
  }
  if (kind === EventKind.cursorCached) {
    if (body.length !== 5) throw new RecordingFormatError("cursor-cached body is not 5 bytes", at);
    return { kind: "cursor-cached", serial: view.getUint32(1, true) };
  }
  if (kind === EventKind.interaction) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body.subarray(1)));
    } catch {
      throw new RecordingFormatError("interaction event is not UTF-8 JSON", at + 1);
    }
    const event = InteractionEvent.safeParse(parsed);
    if (!event.success) throw new RecordingFormatError(`interaction event is malformed: ${event.error.issues[0]?.message}`, at + 1);
    return { kind: "interaction", event: event.data };
  }
  return null;
}

/**
 * Every event of one stream (one chunk's plain bytes) with its time, skipping pixel records by
 * their length without decoding them. A version-1 stream has none.
 */
export function decodeEvents(bytes: Uint8Array): TimedRecordingEvent[] {
  const header = decodeStreamHeader(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: TimedRecordingEvent[] = [];
  let offset = STREAM_HEADER_BYTES;
  while (offset < bytes.length) {
    if (offset + RECORD_HEADER_BYTES > bytes.length) throw new RecordingFormatError("truncated record header", offset);
    const type = bytes[offset]!;
    const t = view.getUint32(offset + 1, true);
    const bodyEnd = offset + RECORD_HEADER_BYTES + view.getUint32(offset + 5, true);
    if (bodyEnd > bytes.length) throw new RecordingFormatError("record body runs past the end", offset);
    if (type === RecordType.event) {
      const event = decodeEventBody(bytes.subarray(offset + RECORD_HEADER_BYTES, bodyEnd), offset + RECORD_HEADER_BYTES);
      if (event) events.push({ ...event, t, epochMs: header.startEpochMs + t });
    }
    offset = bodyEnd;
  }
  return events;
}
