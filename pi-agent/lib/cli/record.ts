import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { readKey, readOrCreateKey } from "../keyfile.ts";
import { CaptureError, ScreenCapture } from "../native.ts";
import { Recorder } from "../recorder.ts";
import { SealPool } from "../seal-pool.ts";
import { Spool, SpoolFullError } from "../spool.ts";
import type { Uploader } from "../uploader.ts";
import { EXIT, UsageError, positiveNumber } from "./exit-codes.ts";
import { uploaderFromArgs, uploadOptions } from "./upload.ts";

export const RECORD_HELP = `lucid-agent record (--display :N | --device /dev/videoN) --out DIR [options]

Records an X display losslessly into encrypted ~10 MB chunks spooled in DIR, uploading them when
--server is given. Run it again with the same DIR after a crash: it resumes the session (same id,
next chunk index) and uploads whatever is still spooled. Ctrl-C stops cleanly: the open chunk is
sealed and, with --server, the spool is drained before exit (a second Ctrl-C exits at once).

  --display :N          X display to capture
  --device PATH         or a V4L2 device (MMAP streaming; YUYV preferred, else MJPEG)
  --size WxH            size to ask the V4L2 device for (default 1920x1080; the driver may pick another)
  --out DIR             spool directory (required); holds session.json, session.key, chunks/
  --session ID          session id (default: a new UUID, or the one already in DIR)
  --key-file FILE       32-byte data key as hex (default: DIR/session.key, created if missing)
  --fps N               frames captured a second (default 10)
  --tile N              tile edge in pixels, 8..255 (default 64)
  --zstd-level N        zstd level 1..19 (default 3)
  --chunk-mb N          plain stream bytes a chunk (default 10)
  --chunk-seconds N     longest span of one chunk (default 60)
  --duration N          stop after N seconds (default: until Ctrl-C)
  --spool-quota-mb N    spool disk quota (default 1024); reaching it stops recording (exit 73)
${uploadOptions}
  --uploads-paused      start with uploads held (chunks are recorded and spooled, not sent)
  --control-stdin       take control lines on stdin: "uploads pause", "uploads resume" (lucid-agent run
                        uses this to hold uploads during an emergency lockdown without stopping capture)
`;

export async function record(argv: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      display: { type: "string" },
      device: { type: "string" },
      size: { type: "string" },
      out: { type: "string" },
      session: { type: "string" },
      "key-file": { type: "string" },
      fps: { type: "string" },
      tile: { type: "string" },
      "zstd-level": { type: "string" },
      "chunk-mb": { type: "string" },
      "chunk-seconds": { type: "string" },
      duration: { type: "string" },
      "spool-quota-mb": { type: "string" },
      server: { type: "string" },
      "token-file": { type: "string" },
      concurrency: { type: "string" },
      "uploads-paused": { type: "boolean" },
      "control-stdin": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return log(RECORD_HELP), EXIT.ok;
  if (!(values.display || values.device) || !values.out) throw new UsageError("record needs --display (or --device) and --out");
  if (values.display && values.device) throw new UsageError("record takes --display or --device, not both");
  const size = /^(\d{1,5})x(\d{1,5})$/.exec(values.size ?? "1920x1080");
  if (!size) throw new UsageError(`--size must look like 1280x720, got "${values.size}"`);
  const tileSize = positiveNumber(values.tile, "tile", 64, true);
  if (tileSize < 8 || tileSize > 255) throw new UsageError("--tile must be 8..255");
  const zstdLevel = positiveNumber(values["zstd-level"], "zstd-level", 3, true);
  if (zstdLevel > 19) throw new UsageError("--zstd-level must be 1..19");
  const fps = positiveNumber(values.fps, "fps", 10);
  const chunkBytes = Math.round(positiveNumber(values["chunk-mb"], "chunk-mb", 10) * 1024 * 1024);
  const maxChunkMs = positiveNumber(values["chunk-seconds"], "chunk-seconds", 60) * 1000;
  const durationMs = values.duration === undefined ? Infinity : positiveNumber(values.duration, "duration", 1) * 1000;
  const quotaBytes = Math.round(positiveNumber(values["spool-quota-mb"], "spool-quota-mb", 1024) * 1024 * 1024);

  const spool = await Spool.open(values.out, { sessionId: values.session, quotaBytes });
  process.once("exit", () => spool.close()); // every way out but kill -9, which the next run detects
  const keyPath = values["key-file"] ?? join(values.out, "session.key");
  const key = values["key-file"] ? readKey(keyPath) : readOrCreateKey(keyPath).key;
  const uploader = uploaderFromArgs(values, spool, log);
  if (values["uploads-paused"]) {
    if (!uploader) throw new UsageError("--uploads-paused needs --server");
    uploader.pause();
    log("uploads paused");
  }
  const control = values["control-stdin"] ? controlLines(uploader, log) : null;

  const source = values.display ?? values.device!;
  let capture: ScreenCapture;
  try {
    capture = values.display
      ? ScreenCapture.openX11(values.display)
      : ScreenCapture.openV4l2(values.device!, { width: Number(size[1]), height: Number(size[2]) });
  } catch (err) {
    if (err instanceof CaptureError) return log(`error: ${err.message}`), EXIT.captureFailed;
    throw err;
  }
  const info = capture.info();
  if (info.note) log(`note: ${info.note}`);
  log(`recording ${source} (${info.width}x${info.height}) as session ${spool.sessionId} from chunk ${spool.nextIndex} into ${values.out}`);

  const stopCapture = new AbortController();
  const stopUpload = new AbortController();
  let signals = 0;
  const onSignal = () => {
    if (++signals === 1) stopCapture.abort();
    else stopUpload.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const timer = Number.isFinite(durationMs) ? setTimeout(() => stopCapture.abort(), durationMs) : null;

  const pool = new SealPool();
  const recorder = new Recorder({
    capture,
    spool,
    pool,
    key,
    tileSize,
    zstdLevel,
    chunkBytes,
    maxChunkMs,
    fps,
    onEvent: (e) =>
      log(
        e.kind === "chunk"
          ? `chunk ${e.index}: ${e.frames} frames, ${e.plainSize} B → zstd ${e.compressedSize} B → sealed ${e.size} B, spooled`
          : `warning: ${e.pending} chunks waiting to be sealed or written; capture waits`,
      ),
  });
  let recording = true;
  const uploading = uploader?.run({ signal: stopUpload.signal, done: () => !recording });
  let code: number = EXIT.ok;
  try {
    await recorder.run(stopCapture.signal);
  } catch (err) {
    if (err instanceof SpoolFullError) {
      log(`error: ${err.message}; recording stopped, spooled chunks are intact`);
      code = EXIT.spoolFull;
      stopUpload.abort();
    } else if (err instanceof CaptureError) {
      log(`error: capture failed: ${err.message}`);
      code = EXIT.captureFailed;
    } else throw err;
  } finally {
    recording = false;
    if (timer) clearTimeout(timer);
    capture.close();
    await pool.close();
  }
  log(`stopped after ${recorder.framesCaptured} frames`);
  if (uploading) {
    await uploading;
    if (uploader!.rejected.size > 0 && code === EXIT.ok) code = EXIT.uploadRejected;
    const left = (await spool.pending()).length;
    if (left > 0) {
      log(`${left} chunks are still in the spool; \`lucid-agent upload --out ${values.out}\` or the next record run sends them`);
      if (code === EXIT.ok) code = EXIT.failure;
    }
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  control?.close();
  return code;
}

/** Control lines from the parent agent on stdin; an open stdin must not keep the process alive at the end. */
function controlLines(uploader: Uploader | null, log: (line: string) => void): { close(): void } {
  const lines = createInterface({ input: process.stdin });
  // Never what keeps the recorder running (an error path may return without close()).
  (process.stdin as { unref?: () => void }).unref?.();
  lines.on("line", (line) => {
    const command = line.trim();
    if (command === "uploads pause" && uploader) {
      uploader.pause();
      log("uploads paused");
    } else if (command === "uploads resume" && uploader) {
      uploader.resume();
      log("uploads resumed");
    } else if (command) log(`warning: ignored control line "${command.slice(0, 60)}"`);
  });
  return {
    close() {
      lines.close();
      process.stdin.destroy();
    },
  };
}
