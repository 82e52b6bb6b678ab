// Playing the cursor back: recordings hold cursor-free pixels and the pointer as events; the
// dashboard's player (open-chunk.ts) and `lucid-agent decode --cursor` draw it over the frames
// through shared/recording/cursor.ts, at the recorded position with XFixes' premultiplied ARGB.
import { describe, expect, it } from "vitest";
import { frameInChunk, framesInChunk, indexRecords } from "../../functions/dashboard/app/lib/open-chunk.ts";
import {
  NO_CURSOR,
  RecordingEncoder,
  decodeEvents,
  decodeWithCursor,
  drawCursor,
  encodeEventRecord,
  type CursorShape,
  type RecordingEvent,
} from "../../shared/recording/index.ts";

const START = 1_764_000_000_000;
const W = 16;
const H = 12;
/** A 3×2 cursor, hot spot (1, 0): opaque red, half-transparent white (premultiplied), transparent; then opaque blue ×3. */
const ARROW: CursorShape = {
  serial: 4,
  width: 3,
  height: 2,
  xhot: 1,
  yhot: 0,
  // little-endian ARGB: B, G, R, A
  argb: Uint8Array.from([0, 0, 255, 255, 128, 128, 128, 128, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255]),
};
const GREY = 100;
/** A 1×1 opaque green cursor. */
const BAR: CursorShape = { serial: 9, width: 1, height: 1, xhot: 0, yhot: 0, argb: Uint8Array.from([0, 255, 0, 255]) };

function stream() {
  const encoder = new RecordingEncoder({ startEpochMs: START, tileSize: 8 });
  const at = (t: number, event: RecordingEvent) => encoder.addEventRecord(encodeEventRecord(t, event));
  const frame = (fill: number) => ({ width: W, height: H, pixels: new Uint8Array(W * H * 3).fill(fill) });
  encoder.add(frame(GREY), START);
  at(0, { kind: "cursor-shape", ...ARROW });
  at(0, { kind: "cursor-move", x: 5, y: 4 });
  encoder.add(frame(GREY), START + 100); // unchanged pixels: no record
  at(150, { kind: "cursor-move", x: 9, y: 7 });
  at(160, { kind: "interaction", event: { type: "keys", count: 2 } });
  at(170, { kind: "cursor-move", x: 0, y: 11 });
  encoder.add(frame(50), START + 300);
  at(400, { kind: "cursor-shape", ...BAR });
  at(500, { kind: "cursor-cached", serial: ARROW.serial });
  at(600, { kind: "cursor-cached", serial: 999 }); // never sent in this chunk: the shape stays
  return encoder.bytes();
}

/** R, G, B, A of pixel (x, y) of an RGBA frame. */
const rgbaAt = (rgba: Uint8Array, x: number, y: number) => [...rgba.subarray((y * W + x) * 4, (y * W + x) * 4 + 4)];

describe("drawing the recorded cursor", () => {
  it("blends premultiplied ARGB over the frame with its hot spot at the position, clipped at the edges", () => {
    const rgba = new Uint8Array(W * H * 4).fill(GREY);
    drawCursor(rgba, W, H, 4, { position: { x: 5, y: 4 }, shape: ARROW });
    expect(rgbaAt(rgba, 4, 4)).toEqual([255, 0, 0, GREY]); // opaque red, at x − xhot
    const half = 128 + Math.round((GREY * 127) / 255);
    expect(rgbaAt(rgba, 5, 4)).toEqual([half, half, half, GREY]);
    expect(rgbaAt(rgba, 6, 4)).toEqual([GREY, GREY, GREY, GREY]); // transparent
    expect(rgbaAt(rgba, 4, 5)).toEqual([0, 0, 255, GREY]);
    expect(rgbaAt(rgba, 3, 4)).toEqual([GREY, GREY, GREY, GREY]);

    const bgr = new Uint8Array(W * H * 3).fill(GREY);
    drawCursor(bgr, W, H, 3, { position: { x: 0, y: H - 1 }, shape: ARROW }); // half off the left and bottom
    expect([...bgr.subarray(((H - 1) * W + 0) * 3, ((H - 1) * W + 0) * 3 + 3)]).toEqual([half, half, half]);
    drawCursor(bgr, W, H, 3, { position: { x: -50, y: 400 }, shape: ARROW }); // wholly off: nothing, no throw
    drawCursor(bgr, W, H, 3, NO_CURSOR);
  });

  it("follows the events between frames without showing a later frame's pixels early", () => {
    // Read as they come: the decoder reuses one pixel buffer.
    const moments = Array.from(decodeWithCursor(stream()), (m) => ({
      t: m.t,
      pixelsChanged: m.pixelsChanged,
      firstByte: m.frame.pixels[0],
      at: m.cursor.position,
      shape: m.cursor.shape?.serial,
    }));
    expect(moments).toEqual([
      { t: 0, pixelsChanged: true, firstByte: GREY, at: { x: 5, y: 4 }, shape: 4 },
      { t: 150, pixelsChanged: false, firstByte: GREY, at: { x: 9, y: 7 }, shape: 4 },
      { t: 170, pixelsChanged: false, firstByte: GREY, at: { x: 0, y: 11 }, shape: 4 },
      { t: 300, pixelsChanged: true, firstByte: 50, at: { x: 0, y: 11 }, shape: 4 },
      { t: 400, pixelsChanged: false, firstByte: 50, at: { x: 0, y: 11 }, shape: 9 },
      { t: 500, pixelsChanged: false, firstByte: 50, at: { x: 0, y: 11 }, shape: 4 },
      { t: 600, pixelsChanged: false, firstByte: 50, at: { x: 0, y: 11 }, shape: 4 },
    ]);
  });
});

describe("cursor-cached events", () => {
  it("round-trip as a 5-byte body naming a serial", () => {
    const encoder = new RecordingEncoder({ startEpochMs: START, tileSize: 8 });
    encoder.add({ width: 8, height: 8, pixels: new Uint8Array(8 * 8 * 3) }, START);
    const record = encodeEventRecord(7, { kind: "cursor-cached", serial: 0xfffffffe });
    expect(record.length).toBe(9 + 5);
    encoder.addEventRecord(record);
    expect(decodeEvents(encoder.bytes())).toEqual([{ kind: "cursor-cached", serial: 0xfffffffe, t: 7, epochMs: START + 7 }]);
  });
});

describe("the dashboard player's frames", () => {
  it("indexes only pixel records, so seeking stops at the right frame", () => {
    expect(indexRecords(stream()).map((r) => [r.type, r.epochMs - START])).toEqual([
      ["keyframe", 0],
      ["delta", 300],
    ]);
  });

  it("draws the cursor at the recorded position when seeking and while playing", () => {
    const seek = frameInChunk(stream(), START + 155)!;
    expect(seek.epochMs).toBe(START);
    expect(seek.cursor).toEqual({ x: 9, y: 7 });
    expect(rgbaAt(seek.rgba, 8, 7)).toEqual([255, 0, 0, 255]);
    expect(rgbaAt(seek.rgba, 4, 4)).toEqual([GREY, GREY, GREY, 255]); // not where it was before

    const played = [...framesInChunk(stream(), START)];
    expect(played.map((f) => [f.epochMs - START, f.cursor])).toEqual([
      [150, { x: 9, y: 7 }],
      [170, { x: 0, y: 11 }],
      [300, { x: 0, y: 11 }],
      [400, { x: 0, y: 11 }],
      [500, { x: 0, y: 11 }],
      [600, { x: 0, y: 11 }],
    ]);
    expect(rgbaAt(played[3]!.rgba, 0, 11)).toEqual([0, 255, 0, 255]); // the bar
    expect(rgbaAt(played[4]!.rgba, 0, 11)).toEqual(rgbaAt(played[2]!.rgba, 0, 11)); // the arrow again, by its serial
    expect(rgbaAt(played[0]!.rgba, 8, 7)).toEqual([255, 0, 0, 255]);
    // Over the later frame's pixels, half off the left edge: only its half-transparent pixel shows.
    const half = 128 + Math.round((50 * 127) / 255);
    expect(rgbaAt(played[2]!.rgba, 0, 11)).toEqual([half, half, half, 255]);
    expect(rgbaAt(played[2]!.rgba, 1, 11)).toEqual([50, 50, 50, 255]);
  });
});
