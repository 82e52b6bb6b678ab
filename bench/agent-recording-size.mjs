// BENCH recording-size: MB per hour of sealed chunks for the scripted office workload
// (bench/agent-workload.mjs), recorded at 10 frames/s through the real path (Xvfb → DAMAGE-driven
// MIT-SHM capture → tile differ → stream → chunks as the recorder cuts them at the default settings:
// 60 s, a keyframe at each chunk's start → zstd at the agent's default level → XChaCha20-Poly1305). Time is simulated (frame n
// is at n × 100 ms), so minutes of workload run faster. baseline = every frame stored whole with
// zstd L1 (the naive lossless recording), sampled every 20th frame and scaled.
import { constants, zstdCompressSync } from "node:zlib";
import { RecordType, encodeRecord, encodeStreamHeader, decodeRecording } from "../shared/recording/index.ts";
import { ScreenCapture } from "../pi-agent/lib/native.ts";
import { DEFAULT_ZSTD_LEVEL, sealChunk, openChunk } from "../pi-agent/lib/seal.ts";
import { startXvfb } from "../test/node/helpers/xvfb.ts";
import { H, OfficeWorkload, W } from "./agent-workload.mjs";
import { report } from "./report.mjs";

const MINUTES = Number(process.env.BENCH_MINUTES ?? 5);
const FPS = 10;
const CHUNK_BYTES = 10 * 1024 * 1024; // sealed; the office desktop reaches 60 s long before
const CHUNK_MS = 60_000;
const key = new Uint8Array(32).fill(5);

const xvfb = await startXvfb(W, H);
try {
  const workload = new OfficeWorkload(xvfb.display);
  workload.start();
  const capture = ScreenCapture.openX11(xvfb.display);
  const sampler = ScreenCapture.openX11(xvfb.display, { damage: false });
  let sealedBytes = 0,
    chunks = 0,
    parts = null,
    partBytes = 0,
    chunkStart = 0,
    baselineBytes = 0,
    samples = 0;
  const cut = () => {
    const plain = new Uint8Array(partBytes);
    let o = 0;
    for (const p of parts) (plain.set(p, o), (o += p.length));
    const sealed = sealChunk({ plain, sessionId: "bench", index: chunks, key, zstdLevel: DEFAULT_ZSTD_LEVEL });
    if (chunks === 0) [...decodeRecording(openChunk(sealed.ciphertext, sealed.nonce, "bench", 0, key))]; // it decodes
    sealedBytes += sealed.ciphertext.length;
    chunks++;
    parts = null;
  };
  const frames = MINUTES * 60 * FPS;
  for (let n = 0; n < frames; n++) {
    workload.step(n);
    const t = n * (1000 / FPS);
    const result = await capture.next({ keyframe: parts === null, tileSize: 64 });
    if (result.type !== "none") {
      if (!parts) ((parts = [encodeStreamHeader(64, 0)]), (partBytes = 16), (chunkStart = t));
      const record = encodeRecord(RecordType[result.type], t, result.body);
      parts.push(record);
      partBytes += record.length;
    }
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
  const hours = frames / FPS / 3600;
  const ours = sealedBytes / 1e6 / hours;
  const baseline = ((baselineBytes / samples) * frames) / 1e6 / hours;
  report("recording-size", ours, baseline, "MB/h", `simulated_minutes=${MINUTES} fps=${FPS} chunks=${chunks} size=${W}x${H} target<=20`);
} finally {
  await xvfb.stop();
}
