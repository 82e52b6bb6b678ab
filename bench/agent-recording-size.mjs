// BENCH recording-size: MB per hour of sealed chunks for the scripted office workload
// (bench/agent-workload.mjs), recorded at 10 frames/s through the real path (Xvfb → DAMAGE-driven
// MIT-SHM capture → tile differ → stream → chunks as the recorder cuts them at the default settings:
// 60 s, a keyframe at each chunk's start → zstd at the agent's default level → XChaCha20-Poly1305). Time is simulated (frame n
// is at n × 100 ms), so minutes of workload run faster. baseline = every frame stored whole with
// zstd L1 (the naive lossless recording), sampled every 20th frame and scaled.
// The pointer is recorded as the agent records it (XFixes shape + position events, drained once a
// frame, each chunk opening with a snapshot); the script below moves it as an office user would.
import { constants, zstdCompressSync } from "node:zlib";
import { RecordType, encodeEventRecord, encodeRecord, encodeStreamHeader, decodeRecording } from "../shared/recording/index.ts";
import { CursorSource } from "../pi-agent/lib/cursor.ts";
import { ScreenCapture } from "../pi-agent/lib/native.ts";
import { DEFAULT_ZSTD_LEVEL, sealChunk, openChunk } from "../pi-agent/lib/seal.ts";
import { CursorFont, releaseRootCursor, setRootCursor, startXvfb, warpPointer } from "../test/node/helpers/xvfb.ts";
import { H, OfficeWorkload, W } from "./agent-workload.mjs";
import { report } from "./report.mjs";

const MINUTES = Number(process.env.BENCH_MINUTES ?? 5);
const FPS = 10;
const CHUNK_BYTES = 10 * 1024 * 1024; // sealed; the office desktop reaches 60 s long before
const CHUNK_MS = 60_000;
const key = new Uint8Array(32).fill(5);

/**
 * The pointer at `ms`: in each minute it rests in the editor (an I-beam) while typing, nudged a few
 * pixels every 5 s; 15 s in it glides to the reader in one second (an arrow there) to turn the page at
 * 20 s, and glides back at 22 s.
 */
function pointerAt(ms) {
  const s = (ms % 60_000) / 1000;
  const editor = { x: 520 + ((Math.floor(ms / 5000) * 7) % 40), y: 430 + ((Math.floor(ms / 5000) * 3) % 20) };
  const reader = { x: 1450, y: 620 };
  const glide = (from, to, f) => ({ x: Math.round(from.x + (to.x - from.x) * f), y: Math.round(from.y + (to.y - from.y) * f) });
  if (s < 15) return { ...editor, shape: CursorFont.xterm };
  if (s < 16) return { ...glide(editor, reader, s - 15), shape: CursorFont.xterm };
  if (s < 22) return { ...reader, shape: CursorFont.leftPtr };
  if (s < 23) return { ...glide(reader, editor, s - 22), shape: CursorFont.leftPtr };
  return { ...editor, shape: CursorFont.xterm };
}

const xvfb = await startXvfb(W, H);
try {
  const workload = new OfficeWorkload(xvfb.display);
  workload.start();
  const capture = ScreenCapture.openX11(xvfb.display);
  const sampler = ScreenCapture.openX11(xvfb.display, { damage: false });
  const cursor = CursorSource.openX11(xvfb.display);
  let shape = -1,
    cursorEvents = 0;
  let sealedBytes = 0,
    chunks = 0,
    parts = null,
    partBytes = 0,
    chunkStart = 0,
    baselineBytes = 0,
    samples = 0;
  let withoutCursorBytes = 0; // the same chunks sealed without their event records: what the cursor costs
  const seal = (records) => {
    const plain = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
    let o = 0;
    for (const p of records) (plain.set(p, o), (o += p.length));
    return sealChunk({ plain, sessionId: "bench", index: chunks, key, zstdLevel: DEFAULT_ZSTD_LEVEL });
  };
  const cut = () => {
    const sealed = seal(parts);
    if (chunks === 0) [...decodeRecording(openChunk(sealed.ciphertext, sealed.nonce, "bench", 0, key))]; // it decodes
    sealedBytes += sealed.ciphertext.length;
    withoutCursorBytes += seal(parts.filter((r, i) => i === 0 || r[0] !== RecordType.event)).ciphertext.length;
    chunks++;
    parts = null;
  };
  const frames = MINUTES * 60 * FPS;
  for (let n = 0; n < frames; n++) {
    workload.step(n);
    const t = n * (1000 / FPS);
    const pointer = pointerAt(t);
    if (pointer.shape !== shape) setRootCursor(xvfb.display, (shape = pointer.shape));
    warpPointer(xvfb.display, pointer.x, pointer.y);
    const result = await capture.next({ keyframe: parts === null, tileSize: 64 });
    const add = (record) => (parts.push(record), (partBytes += record.length));
    if (result.type !== "none") {
      const opened = !parts;
      if (opened) ((parts = [encodeStreamHeader(64, 0)]), (partBytes = 16), (chunkStart = t));
      add(encodeRecord(RecordType[result.type], t, result.body));
      if (opened) for (const event of cursor.snapshot()) add(encodeEventRecord(t, event));
    }
    if (parts) for (const { event } of cursor.drain()) (add(encodeEventRecord(t, event)), cursorEvents++);
    if (parts && (partBytes / 4 >= CHUNK_BYTES || t - chunkStart >= CHUNK_MS)) cut(); // plain/4: a rough sealed size
    if (n % 20 === 0) {
      const whole = await sampler.next({ keyframe: true, tileSize: 64 }); // a polling capture: always whole
      baselineBytes += zstdCompressSync(whole.body, { params: { [constants.ZSTD_c_compressionLevel]: 1 } }).length;
      samples++;
    }
  }
  if (parts) cut();
  capture.close();
  sampler.close();
  cursor.close();
  releaseRootCursor(xvfb.display);
  const hours = frames / FPS / 3600;
  const ours = sealedBytes / 1e6 / hours;
  const withoutCursor = withoutCursorBytes / 1e6 / hours;
  const baseline = ((baselineBytes / samples) * frames) / 1e6 / hours;
  report(
    "recording-size",
    ours,
    baseline,
    "MB/h",
    `simulated_minutes=${MINUTES} fps=${FPS} chunks=${chunks} cursor_events=${cursorEvents} without_cursor_mb_h=${withoutCursor.toFixed(2)} size=${W}x${H} target<=20`,
  );
} finally {
  await xvfb.stop();
}
