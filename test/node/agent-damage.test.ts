// Damage-driven capture: the addon grabs only what the X server reports as drawn (DAMAGE), and the
// decoded recording must still equal the screen after every tick. The screen's truth is a second
// capture that polls whole frames (no DAMAGE), read while nothing draws.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScreenCapture, type CaptureResult } from "../../pi-agent/lib/native.ts";
import { RecordType, decodeRecording, encodeRecord, encodeStreamHeader } from "../../shared/recording/index.ts";
import { copyArea, noise, openWindow, putImage, startXvfb, type Xvfb } from "./helpers/xvfb.ts";

// Not multiples of the tile: the right column and bottom row of tiles are clipped.
const W = 203;
const H = 141;
const TILE = 32;
let xvfb: Xvfb;
let reference: ScreenCapture;

beforeAll(async () => {
  xvfb = await startXvfb(W, H);
  reference = ScreenCapture.openX11(xvfb.display, { damage: false });
});
afterAll(async () => {
  reference?.close();
  await xvfb?.stop();
});

/** The screen as it is now, B, G, R. */
async function screen(): Promise<Uint8Array> {
  const whole = await reference.next({ keyframe: true, tileSize: TILE });
  if (whole.type !== "keyframe") throw new Error("the reference capture returned no keyframe");
  return Uint8Array.from(whole.body.subarray(4));
}

/** A capture under test, with the stream it has recorded so far and its decoded last frame. */
function recorded(capture: ScreenCapture) {
  const records: Uint8Array[] = [encodeStreamHeader(TILE, 0)];
  let t = 0;
  return {
    async tick(keyframe = false): Promise<CaptureResult> {
      const result = await capture.next({ keyframe, tileSize: TILE });
      if (result.type !== "none") records.push(encodeRecord(RecordType[result.type], t++, result.body));
      return result;
    },
    lastFrame(): Uint8Array {
      const bytes = Buffer.concat(records);
      let last: Uint8Array | null = null;
      for (const frame of decodeRecording(bytes)) last = frame.pixels;
      if (!last) throw new Error("nothing recorded");
      return last.slice();
    },
  };
}

/** "" when two B, G, R frames are equal, else where they first differ (a fast check for big frames). */
function difference(a: Uint8Array, b: Uint8Array): string {
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return "";
  const i = a.findIndex((v, n) => v !== b[n]);
  const p = Math.floor(i / 3);
  return `first differs at pixel (${p % W}, ${Math.floor(p / W)}): ${[...a.subarray(p * 3, p * 3 + 3)]} vs ${[...b.subarray(p * 3, p * 3 + 3)]}`;
}

function random(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

describe("damage-driven capture under Xvfb", () => {
  it("says whether it follows DAMAGE, and why not when it polls", () => {
    const damaged = ScreenCapture.openX11(xvfb.display);
    expect(damaged.info()).toMatchObject({ damage: true, shm: true, note: "" });
    damaged.close();
    expect(reference.info()).toMatchObject({ damage: false, note: expect.stringMatching(/DAMAGE disabled.*whole frames/) });
  });

  it("grabs nothing while nothing is drawn, and one tile for a one-pixel change", async () => {
    const capture = ScreenCapture.openX11(xvfb.display);
    try {
      const rec = recorded(capture);
      expect((await rec.tick(true)).grabbedPixels).toBe(W * H);
      const idle = await rec.tick();
      expect(idle).toMatchObject({ type: "none", grabbedPixels: 0 });
      putImage(xvfb.display, TILE * 2 + 5, TILE + 7, 1, 1, Uint8Array.of(1, 2, 3, 0));
      const one = await rec.tick();
      expect(one).toMatchObject({ type: "delta", changedTiles: 1, grabbedPixels: TILE * TILE });
      expect(difference(rec.lastFrame(), await screen())).toBe("");
    } finally {
      capture.close();
    }
  });

  it("stays pixel-exact through many small overlapping draws across tile boundaries (MIT-SHM and XGetImage)", async () => {
    const captures = [ScreenCapture.openX11(xvfb.display), ScreenCapture.openX11(xvfb.display, { shm: false })];
    expect(captures[1]!.info()).toMatchObject({ shm: false, damage: true });
    try {
      putImage(xvfb.display, 0, 0, W, H, noise(W, H, 3).bgrx);
      const recs = captures.map(recorded);
      for (const rec of recs) await rec.tick(true);
      const next = random(42);
      const edges = [0, TILE - 1, TILE, 2 * TILE - 1, 2 * TILE, 3 * TILE - 2, W - 1, H - 1];
      for (let round = 0; round < 25; round++) {
        // 1–40 rectangles a tick, 1–24 px, half of them starting on or next to a tile edge.
        for (let n = 1 + next(40); n > 0; n--) {
          const w = 1 + next(24),
            h = 1 + next(24);
          const x = Math.min(W - w, next(2) ? edges[next(edges.length)]! : next(W));
          const y = Math.min(H - h, next(2) ? edges[next(edges.length)]! % H : next(H));
          putImage(xvfb.display, x, y, w, h, noise(w, h, round * 100 + n).bgrx);
        }
        if (round % 5 === 4) copyArea(xvfb.display, 0, 10, W, H - 10, 0, 0); // a scroll the server draws itself
        const results = [];
        for (const rec of recs) results.push(await rec.tick());
        const truth = await screen();
        for (const [i, rec] of recs.entries()) expect(difference(rec.lastFrame(), truth), `capture ${i} after round ${round}`).toBe("");
        expect(results[0]!.grabbedPixels).toBeGreaterThan(0);
      }
    } finally {
      for (const c of captures) c.close();
    }
  });

  it("follows a full-screen change and windows drawn on, mapped and destroyed", async () => {
    const capture = ScreenCapture.openX11(xvfb.display);
    try {
      const rec = recorded(capture);
      await rec.tick(true);
      putImage(xvfb.display, 0, 0, W, H, noise(W, H, 77).bgrx);
      const full = await rec.tick();
      expect(full).toMatchObject({ type: "delta", changedTiles: Math.ceil(W / TILE) * Math.ceil(H / TILE), grabbedPixels: W * H });
      expect(difference(rec.lastFrame(), await screen())).toBe("");

      const close = openWindow(xvfb.display, TILE - 3, TILE - 5, 70, 50, noise(70, 50, 8).bgrx);
      await rec.tick();
      expect(difference(rec.lastFrame(), await screen())).toBe("");
      close(); // the root shows again where the window was
      await rec.tick();
      expect(difference(rec.lastFrame(), await screen())).toBe("");
    } finally {
      capture.close();
    }
  });
});
