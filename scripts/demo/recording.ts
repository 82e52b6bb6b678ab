// A short demo recording made by the agent's own pipeline: a scripted office-like desktop is encoded
// losslessly (shared/recording), sealed with the session's data key (zstd + XChaCha20-Poly1305, the
// agent's sealChunk), spooled durably and uploaded by the agent's Uploader with the node credential.
import { rmSync } from "node:fs";
import { sealChunk } from "../../pi-agent/lib/seal.ts";
import { Spool } from "../../pi-agent/lib/spool.ts";
import { Uploader } from "../../pi-agent/lib/uploader.ts";
import { RecordingEncoder, type Frame } from "../../shared/recording/index.ts";

const WIDTH = 640;
const HEIGHT = 400;
const FRAME_MS = 500;

type Rgb = [number, number, number];

function fill(frame: Frame, x: number, y: number, w: number, h: number, [r, g, b]: Rgb): void {
  for (let row = Math.max(0, y); row < Math.min(frame.height, y + h); row++) {
    for (let col = Math.max(0, x); col < Math.min(frame.width, x + w); col++) {
      const o = (row * frame.width + col) * 3;
      frame.pixels[o] = b;
      frame.pixels[o + 1] = g;
      frame.pixels[o + 2] = r;
    }
  }
}

/** Frame `n` of the script: an editor window where a line of "text" grows, a ticking clock, a moving pointer. */
export function demoFrame(n: number): Frame {
  const frame: Frame = { width: WIDTH, height: HEIGHT, pixels: new Uint8Array(WIDTH * HEIGHT * 3) };
  fill(frame, 0, 0, WIDTH, HEIGHT, [38, 70, 110]);
  fill(frame, 0, HEIGHT - 24, WIDTH, 24, [30, 30, 36]);
  fill(frame, WIDTH - 60, HEIGHT - 18, 8 + ((n >> 1) % 10) * 4, 12, [200, 200, 200]);
  fill(frame, 60, 40, 440, 280, [245, 245, 240]);
  fill(frame, 60, 40, 440, 22, [70, 90, 140]);
  const typed = n * 6;
  for (let line = 0; line * 60 < typed + 60; line++) {
    const width = Math.min(380, typed - line * 60 * 6);
    if (width > 0) fill(frame, 76, 76 + line * 16, width, 8, [40, 40, 40]);
  }
  fill(frame, 520 - ((n * 7) % 400), 120 + ((n * 11) % 160), 8, 12, [255, 255, 255]);
  return frame;
}

export interface UploadedRecording {
  chunks: number;
  bytes: number;
}

/**
 * Records `chunkCount` chunks of `framesPerChunk` frames for the session and uploads them. The spool
 * in `spoolDir` survives a crash: run again, it seals only the chunks not yet spooled and uploads
 * whatever the server has not acknowledged, as the agent does after a kill -9.
 */
export async function recordDemoSession(options: {
  base: string;
  spoolDir: string;
  sessionId: string;
  key: Uint8Array;
  nodeCredential: string;
  startEpochMs: number;
  chunkCount: number;
  framesPerChunk: number;
}): Promise<UploadedRecording> {
  const spool = await Spool.open(options.spoolDir, { sessionId: options.sessionId, quotaBytes: 64 * 1024 * 1024 });
  let done = false;
  try {
    let bytes = 0;
    for (let c = spool.nextIndex; c < options.chunkCount; c++) {
      const chunkStart = options.startEpochMs + c * options.framesPerChunk * FRAME_MS;
      const encoder = new RecordingEncoder({ startEpochMs: chunkStart });
      for (let f = 0; f < options.framesPerChunk; f++) {
        encoder.add(demoFrame(c * options.framesPerChunk + f), chunkStart + f * FRAME_MS);
      }
      const index = spool.takeIndex();
      const sealed = sealChunk({ plain: encoder.bytes(), sessionId: options.sessionId, index, key: options.key, zstdLevel: 3 });
      await spool.writeSealed(index, sealed, { start: chunkStart, end: chunkStart + (options.framesPerChunk - 1) * FRAME_MS });
      bytes += sealed.ciphertext.length;
    }
    const uploader = new Uploader(spool, {
      baseUrl: options.base,
      token: options.nodeCredential,
      concurrency: 2,
      minBackoffMs: 250,
      maxBackoffMs: 5_000,
    });
    await uploader.run({ signal: AbortSignal.timeout(60_000), done: () => true });
    if (uploader.rejected.size > 0) {
      throw new Error(`the server refused chunk(s): ${[...uploader.rejected].map(([i, why]) => `${i}: ${why}`).join("; ")}`);
    }
    const left = await spool.pending();
    if (left.length > 0) throw new Error(`${left.length} chunk(s) were not acknowledged within 60 s`);
    done = true;
    return { chunks: options.chunkCount, bytes };
  } finally {
    spool.close();
    if (done) rmSync(options.spoolDir, { recursive: true, force: true });
  }
}
