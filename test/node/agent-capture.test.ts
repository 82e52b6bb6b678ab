import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaptureError, ScreenCapture } from "../../pi-agent/lib/native.ts";
import { RecordType, decodeRecording, encodeRecord, encodeStreamHeader } from "../../shared/recording/index.ts";
import { noise, putImage, startXvfb, type Xvfb } from "./helpers/xvfb.ts";

const W = 200;
const H = 150;
let xvfb: Xvfb;
let capture: ScreenCapture;

beforeAll(async () => {
  xvfb = await startXvfb(W, H);
  capture = ScreenCapture.openX11(xvfb.display);
});
afterAll(async () => {
  capture?.close();
  await xvfb?.stop();
});

/** Decodes records the addon produced, with the stream's own decoder. */
function decode(records: Array<{ type: "keyframe" | "delta"; body: Uint8Array }>) {
  const parts = [encodeStreamHeader(64, 0), ...records.map((r, i) => encodeRecord(RecordType[r.type], i, r.body))];
  const bytes = Uint8Array.from(parts.flatMap((p) => [...p]));
  const frames = [];
  for (const f of decodeRecording(bytes)) frames.push({ ...f, pixels: f.pixels.slice() });
  return frames;
}

describe("X11 capture under Xvfb", () => {
  it("uses MIT-SHM and reports the screen size", () => {
    expect(capture.info()).toEqual({ width: W, height: H, shm: true, damage: true, note: "", pixelFormat: "BGRX" });
  });

  it("records drawn pixels exactly and then only the tiles that changed", async () => {
    const background = noise(W, H, 11);
    putImage(xvfb.display, 0, 0, W, H, background.bgrx);
    const key = await capture.next({ keyframe: true, tileSize: 64 });
    expect(key.type).toBe("keyframe");

    // A 10x10 patch inside tile (1,1) and one straddling tiles (2,1)/(3,1) (x 190..199 is the clipped column).
    const patch = noise(10, 10, 5);
    putImage(xvfb.display, 70, 70, 10, 10, patch.bgrx);
    putImage(xvfb.display, 185, 100, 10, 10, patch.bgrx);
    const delta = await capture.next({ keyframe: false, tileSize: 64 });
    expect(delta.type).toBe("delta");
    expect(delta.changedTiles).toBe(3);

    const unchanged = await capture.next({ keyframe: false, tileSize: 64 });
    expect(unchanged.type).toBe("none");

    if (key.type === "none" || delta.type === "none") throw new Error("unreachable");
    const [first, second] = decode([key, delta]);
    expect(first!.pixels).toEqual(background.bgr);
    expect(second!.changedTiles).toEqual([
      { tx: 1, ty: 1 },
      { tx: 2, ty: 1 },
      { tx: 3, ty: 1 },
    ]);
    const expected = background.bgr.slice();
    for (const [x0, y0] of [
      [70, 70],
      [185, 100],
    ] as const) {
      for (let y = 0; y < 10; y++) expected.set(patch.bgr.subarray(y * 30, y * 30 + 30), ((y0 + y) * W + x0) * 3);
    }
    expect(second!.pixels).toEqual(expected);
  });

  it("encodes a one-colour tile as solid", async () => {
    const red = new Uint8Array(64 * 64 * 4);
    for (let i = 0; i < red.length; i += 4) red[i + 2] = 255;
    putImage(xvfb.display, 0, 0, 64, 64, red);
    const delta = await capture.next({ keyframe: false, tileSize: 64 });
    if (delta.type !== "delta") throw new Error(`expected a delta, got ${delta.type}`);
    expect(delta.changedTiles).toBe(1);
    expect([...delta.body]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 255]);
  });

  it("falls back to XGetImage with a note, and records the same pixels", async () => {
    const slow = ScreenCapture.openX11(xvfb.display, { shm: false });
    try {
      expect(slow.info()).toMatchObject({ shm: false, note: expect.stringMatching(/XGetImage/) });
      const background = noise(W, H, 23);
      putImage(xvfb.display, 0, 0, W, H, background.bgrx);
      const key = await slow.next({ keyframe: true, tileSize: 64 });
      if (key.type !== "keyframe") throw new Error(`expected a keyframe, got ${key.type}`);
      expect(decode([key])[0]!.pixels).toEqual(background.bgr);
    } finally {
      slow.close();
    }
  });

  it("reports a dead X server as an error value instead of exiting the process", async () => {
    const doomed = await startXvfb(64, 64);
    const capture = ScreenCapture.openX11(doomed.display);
    await capture.next({ keyframe: true, tileSize: 64 });
    await doomed.stop();
    await expect(capture.next({ keyframe: false, tileSize: 64 })).rejects.toThrow(/lost the connection to X display/);
    capture.close();
  });

  it("returns errors as values: busy, bad arguments, missing display", async () => {
    const first = capture.next({ keyframe: false, tileSize: 64 });
    await expect(capture.next({ keyframe: false, tileSize: 64 })).rejects.toThrow(/already running/);
    await first;
    await expect(capture.next({ keyframe: false, tileSize: 3 })).rejects.toThrow(/tileSize must be 8..255/);
    expect(() => ScreenCapture.openX11("not a display")).toThrow(CaptureError);
    expect(() => ScreenCapture.openX11(":7999")).toThrow(/cannot open X display ":7999"/);
  });
});
