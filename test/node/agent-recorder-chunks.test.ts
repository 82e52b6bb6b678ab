// The recorder's layout: a keyframe opens every chunk and follows every keyframeMs within one; a
// chunk closes at chunkBytes *sealed* or maxChunkMs, whichever first; the recording decodes across
// chunks to the screen, and the dashboard's seek (record index + decoder) lands on the right frame.
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { indexRecords } from "../../functions/dashboard/app/lib/open-chunk.ts";
import { ScreenCapture } from "../../pi-agent/lib/native.ts";
import { Recorder, type RecorderEvent } from "../../pi-agent/lib/recorder.ts";
import { SealPool } from "../../pi-agent/lib/seal-pool.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { Spool } from "../../pi-agent/lib/spool.ts";
import { decodeRecording } from "../../shared/recording/index.ts";
import { until } from "./helpers/until.ts";
import { noise, putImage, startXvfb, type Xvfb } from "./helpers/xvfb.ts";

const W = 240;
const H = 160;
let xvfb: Xvfb;
const dir = mkdtempSync(join(tmpdir(), "lucid-chunks-"));

beforeAll(async () => {
  xvfb = await startXvfb(W, H);
});
afterAll(async () => {
  await xvfb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("recorder: keyframes by time, chunks by sealed size", () => {
  it("cuts by sealed bytes, puts keyframes every keyframeMs, and decodes across chunks to the screen", async () => {
    const KEYFRAME_MS = 300;
    const CHUNK_BYTES = 250_000;
    const spool = await Spool.open(join(dir, "spool"), { sessionId: "sess-chunks", quotaBytes: 64 << 20 });
    const pool = new SealPool(1);
    const capture = ScreenCapture.openX11(xvfb.display);
    const key = new Uint8Array(32).fill(3);
    const events: RecorderEvent[] = [];
    const recorder = new Recorder({
      capture,
      spool,
      pool,
      key,
      tileSize: 32,
      zstdLevel: 3,
      chunkBytes: CHUNK_BYTES,
      maxChunkMs: 60_000,
      keyframeMs: KEYFRAME_MS,
      fps: 20,
      onEvent: (e) => events.push(e),
    });
    // A desktop drawn in 16x16 noise patches, 3 every 40 ms: a few KB sealed a frame.
    putImage(xvfb.display, 0, 0, W, H, new Uint8Array(W * H * 4).fill(0x40));
    let seed = 1;
    const painter = setInterval(() => {
      for (let i = 0; i < 3; i++, seed++)
        putImage(xvfb.display, (seed * 37) % (W - 16), (seed * 53) % (H - 16), 16, 16, noise(16, 16, seed).bgrx);
    }, 40);
    const stop = new AbortController();
    const running = recorder.run(stop.signal);
    try {
      await until("three sealed chunks", () => events.filter((e) => e.kind === "chunk").length >= 3, { timeoutMs: 60_000 });
    } finally {
      clearInterval(painter);
    }
    // Two ticks after the last draw, so the recording holds it.
    const frames = recorder.framesCaptured;
    await until("two more ticks", () => recorder.framesCaptured >= frames + 2);
    stop.abort();
    await running;
    capture.close();
    await pool.close();

    const metas = (await spool.pending()).sort((a, b) => a.index - b.index);
    expect(metas.length).toBeGreaterThanOrEqual(3);
    let last: Uint8Array | null = null;
    let midChunkKeyframes = 0;
    for (const [n, meta] of metas.entries()) {
      const sealed = new Uint8Array(await readFile(join(dir, "spool", "chunks", `${String(meta.index).padStart(10, "0")}.bin`)));
      // Closed at CHUNK_BYTES sealed, passing it by at most one zstd block still being compressed.
      if (n < metas.length - 1) expect(sealed.length).toBeLessThan(CHUNK_BYTES + 128 * 1024);
      const plain = openChunk(sealed, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key);
      const index = indexRecords(plain);
      expect(index[0]!.type).toBe("keyframe");
      const keyframes = index.filter((r) => r.type === "keyframe").map((r) => r.epochMs);
      for (let k = 1; k < keyframes.length; k++) expect(keyframes[k]! - keyframes[k - 1]!).toBeGreaterThanOrEqual(KEYFRAME_MS);
      midChunkKeyframes += keyframes.length - 1;
      // Seeking as the dashboard does: stop at the last record at or before a time, from the chunk's start.
      const target = index[Math.floor(index.length / 2)]!.epochMs;
      const stopAt = index.findLastIndex((r, i) => i === 0 || r.epochMs <= target);
      let seen = 0;
      for (const frame of decodeRecording(plain)) {
        if (seen++ === stopAt) {
          expect(frame.epochMs).toBe(index[stopAt]!.epochMs);
          break;
        }
      }
      for (const frame of decodeRecording(plain)) last = frame.pixels.slice();
    }
    expect(midChunkKeyframes).toBeGreaterThan(0);
    const reference = ScreenCapture.openX11(xvfb.display, { damage: false });
    const screen = await reference.next({ keyframe: true, tileSize: 32 });
    reference.close();
    if (screen.type !== "keyframe") throw new Error("no keyframe from the screen");
    expect(Buffer.from(last!).equals(screen.body.subarray(4))).toBe(true);
  }, 90_000);

  it("opens each time-cut chunk with the one keyframe that fell due with it, not a second one", async () => {
    const spool = await Spool.open(join(dir, "spool-time"), { sessionId: "sess-time", quotaBytes: 64 << 20 });
    const pool = new SealPool(1);
    const capture = ScreenCapture.openX11(xvfb.display);
    const key = new Uint8Array(32).fill(4);
    let chunks = 0;
    const recorder = new Recorder({
      capture,
      spool,
      pool,
      key,
      tileSize: 32,
      zstdLevel: 3,
      chunkBytes: 10 << 20,
      maxChunkMs: 300,
      keyframeMs: 300,
      fps: 20,
      onEvent: (e) => void (e.kind === "chunk" && chunks++),
    });
    let seed = 1000;
    const painter = setInterval(
      () => putImage(xvfb.display, (seed * 37) % (W - 8), (seed++ * 53) % (H - 8), 8, 8, noise(8, 8, seed).bgrx),
      30,
    );
    const stop = new AbortController();
    const running = recorder.run(stop.signal);
    try {
      await until("four chunks cut by time", () => chunks >= 4, { timeoutMs: 60_000 });
    } finally {
      clearInterval(painter);
      stop.abort();
      await running;
      capture.close();
      await pool.close();
    }
    for (const meta of await spool.pending()) {
      const sealed = new Uint8Array(await readFile(join(dir, "spool-time", "chunks", `${String(meta.index).padStart(10, "0")}.bin`)));
      const index = indexRecords(openChunk(sealed, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key));
      expect(index.filter((r) => r.type === "keyframe").length, `chunk ${meta.index}`).toBe(1);
    }
  }, 90_000);
});
