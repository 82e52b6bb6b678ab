import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  RecordingEncoder,
  RecordingFormatError,
  bgrToRgba,
  decodeRecording,
  encodeStreamHeader,
  type Frame,
} from "../../shared/recording/index.ts";

/** Decodes all frames, copying each (the decoder reuses its framebuffer). */
function decodeAll(bytes: Uint8Array) {
  const out = [];
  for (const frame of decodeRecording(bytes)) out.push({ ...frame, pixels: frame.pixels.slice() });
  return out;
}

function randomFrame(width: number, height: number, seed: number): Frame {
  const pixels = new Uint8Array(width * height * 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < pixels.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    pixels[i] = s & 0xff;
  }
  return { width, height, pixels };
}

function paint(frame: Frame, x: number, y: number, w: number, h: number, bgr: [number, number, number]): Frame {
  const pixels = frame.pixels.slice();
  for (let yy = y; yy < y + h; yy++) {
    for (let xx = x; xx < x + w; xx++) pixels.set(bgr, (yy * frame.width + xx) * 3);
  }
  return { ...frame, pixels };
}

describe("recording stream v1", () => {
  it("round-trips keyframe, xor and solid tiles exactly, listing only changed tiles", () => {
    const start = 1_764_000_000_000;
    const enc = new RecordingEncoder({ startEpochMs: start, tileSize: 16 });
    const f0 = randomFrame(50, 37, 7); // edge tiles are clipped (50 = 3*16 + 2)
    const f1 = paint(f0, 17, 17, 3, 3, [1, 2, 3]); // inside tile (1,1) only: xor
    const f2 = paint(f1, 48, 32, 2, 5, [9, 9, 9]); // the clipped corner tile (3,2) becomes solid
    const frames = [f0, f1, f1, f2];
    frames.forEach((f, i) => enc.add(f, start + i * 40));
    const decoded = decodeAll(enc.bytes());
    expect(decoded.map((d) => d.type)).toEqual(["keyframe", "delta", "delta"]); // the unchanged frame is skipped
    expect(decoded.map((d) => d.t)).toEqual([0, 40, 120]);
    expect(decoded[0]!.epochMs).toBe(start);
    expect(decoded[1]!.changedTiles).toEqual([{ tx: 1, ty: 1 }]);
    expect(decoded[2]!.changedTiles).toEqual([{ tx: 3, ty: 2 }]);
    expect(decoded[0]!.pixels).toEqual(f0.pixels);
    expect(decoded[1]!.pixels).toEqual(f1.pixels);
    expect(decoded[2]!.pixels).toEqual(f2.pixels);
  });

  it("starts over with a keyframe when the resolution changes", () => {
    const enc = new RecordingEncoder({ startEpochMs: 0 });
    enc.add(randomFrame(20, 10, 1), 0);
    enc.add(randomFrame(30, 12, 2), 5);
    const decoded = [...decodeRecording(enc.bytes())].map((d) => [d.type, d.width, d.height]);
    expect(decoded).toEqual([
      ["keyframe", 20, 10],
      ["keyframe", 30, 12],
    ]);
  });

  it("round-trips any sequence of frames (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 }),
        (width, height, edits) => {
          let frame = randomFrame(width, height, width * 97 + height);
          const enc = new RecordingEncoder({ startEpochMs: 1000, tileSize: 8 });
          const expected: Uint8Array[] = [];
          enc.add(frame, 1000);
          expected.push(frame.pixels);
          edits.forEach(([x, y, w, h, c], i) => {
            const px = x % width,
              py = y % height;
            frame = paint(frame, px, py, Math.min(1 + (w % 9), width - px), Math.min(1 + (h % 9), height - py), [c, 255 - c, c ^ 0x5a]);
            if (enc.add(frame, 1001 + i)) expected.push(frame.pixels);
          });
          const got = decodeAll(enc.bytes()).map((d) => d.pixels);
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("converts to opaque RGBA for players", () => {
    expect([...bgrToRgba(Uint8Array.of(1, 2, 3))]).toEqual([3, 2, 1, 255]);
  });

  it("rejects foreign, future-version, truncated and headless streams with the offset", () => {
    const enc = new RecordingEncoder({ startEpochMs: 0 });
    enc.add(randomFrame(4, 4, 3), 0);
    const bytes = enc.bytes();
    expect(() => [...decodeRecording(Uint8Array.from(bytes).fill(0, 0, 4))]).toThrow(/magic/);
    const future = bytes.slice();
    future[4] = 3;
    expect(() => [...decodeRecording(future)]).toThrow(/version 3/);
    expect(() => [...decodeRecording(bytes.subarray(0, bytes.length - 1))]).toThrow(RecordingFormatError);
    const deltaFirst = Uint8Array.of(...encodeStreamHeader(64, 0), 2, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0);
    expect(() => [...decodeRecording(deltaFirst)]).toThrow(/before any keyframe/);
  });

  it("validates frames before encoding", () => {
    const enc = new RecordingEncoder({ startEpochMs: 0 });
    expect(() => enc.add({ width: 2, height: 2, pixels: new Uint8Array(5) }, 0)).toThrow(/needs 12 bytes/);
    expect(() => new RecordingEncoder({ startEpochMs: 0, tileSize: 4 })).toThrow(/tileSize/);
  });
});
