// BENCH playback: how fast the dashboard opens a chunk for playback with what a browser has
// (WebCrypto SHA-256, @noble/ciphers XChaCha20-Poly1305, fzstd, the shared decoder: the code in
// functions/dashboard/app/lib/open-chunk.ts), against the agent's native path for the same chunk
// (node:crypto ChaCha20-Poly1305 + node:zlib zstd, pi-agent/lib/seal.ts openChunk) with the same
// decoder. Unit: MB/s of plain recording stream (higher is better).
import { createHash } from "node:crypto";
import { openChunk as openChunkJs, type ManifestChunk } from "../functions/dashboard/app/lib/open-chunk.ts";
import { openChunk as openChunkNative, sealChunk } from "../pi-agent/lib/seal.ts";
import { decodeRecording, RecordingEncoder } from "../shared/recording/index.ts";

const W = 1920;
const H = 1080;
const FRAMES = Number(process.env.BENCH_FRAMES ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SESSION = "bench-playback";
const key = new Uint8Array(32).fill(7);

// A desktop-like stream: a wallpaper keyframe, then a window whose text area changes each frame.
const encoder = new RecordingEncoder({ startEpochMs: 1_764_000_000_000 });
const pixels = new Uint8Array(W * H * 3);
for (let y = 0; y < H; y++)
  for (let x = 0; x < W; x++) {
    const i = (y * W + x) * 3;
    pixels[i] = 90 + ((x + y) >> 4);
    pixels[i + 1] = 60 + (y >> 3);
    pixels[i + 2] = 40 + (x >> 4);
  }
for (let n = 0; n < FRAMES; n++) {
  for (let y = 200 + (n % 20) * 18; y < 218 + (n % 20) * 18; y++) {
    for (let x = 300; x < 300 + 9 * (n + 1) && x < 1600; x++) {
      const i = (y * W + x) * 3;
      pixels[i] = pixels[i + 1] = pixels[i + 2] = (x * 31 + y * 7 + n) & 0xff;
    }
  }
  encoder.add({ width: W, height: H, pixels }, 1_764_000_000_000 + n * 100);
}
const plain = encoder.bytes();
const sealed = sealChunk({ plain, sessionId: SESSION, index: 0, key, zstdLevel: 3 });
const chunk: ManifestChunk = {
  index: 0,
  sha256: Buffer.from(sealed.sha256).toString("hex"),
  size: sealed.ciphertext.length,
  nonce: Buffer.from(sealed.nonce).toString("hex"),
  plainSize: sealed.plainSize,
  compressedSize: sealed.compressedSize,
  captureStart: 0,
  captureEnd: 0,
};

function decodeAll(stream: Uint8Array): number {
  let frames = 0;
  for (const _ of decodeRecording(stream)) frames++;
  return frames;
}

async function measure(open: () => Promise<Uint8Array> | Uint8Array): Promise<number> {
  await open(); // warm-up
  const start = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    const frames = decodeAll(await open());
    if (frames !== FRAMES) throw new Error(`decoded ${frames} frames, expected ${FRAMES}`);
  }
  return (plain.length * ROUNDS) / 1e6 / ((performance.now() - start) / 1000);
}

const baseline = await measure(() => {
  // The native path checks the same hash the browser checks before opening.
  if (createHash("sha256").update(sealed.ciphertext).digest("hex") !== chunk.sha256) throw new Error("hash");
  return openChunkNative(sealed.ciphertext, sealed.nonce, SESSION, 0, key);
});
const ours = await measure(() => openChunkJs(SESSION, chunk, key, sealed.ciphertext));
console.log(
  `chunk: ${FRAMES} frames of ${W}x${H}, ${(plain.length / 1e6).toFixed(1)} MB plain, ${(sealed.ciphertext.length / 1e6).toFixed(2)} MB sealed`,
);
console.log(`BENCH playback ours=${ours.toFixed(1)} baseline=${baseline.toFixed(1)} ratio=${(ours / baseline).toFixed(3)} unit=MB/s`);
