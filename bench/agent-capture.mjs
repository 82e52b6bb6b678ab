// BENCH capture: frames/s of capture + encode at 1920x1080 under Xvfb with the office workload.
// ours = DAMAGE-driven MIT-SHM grab + C++ tile differ (only what was drawn is grabbed, only changed
// tiles leave the addon; a tick with nothing drawn costs no grab);
// baseline = the same grab as whole frames, each compressed with zstd level 1 (the naive lossless path).
import { constants, zstdCompressSync } from "node:zlib";
import { ScreenCapture } from "../pi-agent/lib/native.ts";
import { startXvfb } from "../test/node/helpers/xvfb.ts";
import { H, OfficeWorkload, W } from "./agent-workload.mjs";
import { report } from "./report.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const xvfb = await startXvfb(W, H);
try {
  const workload = new OfficeWorkload(xvfb.display);
  workload.start();
  const capture = ScreenCapture.openX11(xvfb.display);
  const info = capture.info();
  if (!info.shm) console.error(`note: ${info.note}`);

  async function measure(step) {
    let frames = 0;
    await capture.next({ keyframe: true, tileSize: 64 });
    const end = performance.now() + SECONDS * 1000;
    const start = performance.now();
    while (performance.now() < end) {
      if (frames % 10 === 0) workload.step(frames); // the screen changes at 1/10 of the capture rate
      await step();
      frames++;
    }
    return frames / ((performance.now() - start) / 1000);
  }

  const ours = await measure(() => capture.next({ keyframe: false, tileSize: 64 }));
  const zstd = { params: { [constants.ZSTD_c_compressionLevel]: 1 } };
  const baseline = await measure(async () => {
    const frame = await capture.next({ keyframe: true, tileSize: 64 });
    zstdCompressSync(frame.body, zstd);
  });
  capture.close();
  report("capture", ours, baseline, "frames/s", `size=${W}x${H} shm=${info.shm}`);
} finally {
  await xvfb.stop();
}
