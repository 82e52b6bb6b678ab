import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { startSessionWithToken } from "../node/sessions-api.ts";
import { sleep } from "../sleep.ts";
import { readKey, readOrCreateKey } from "../keyfile.ts";
import { InteractionPolicy } from "../../../shared/recording/index.ts";
import { InteractionSource } from "../interaction.ts";
import { CursorSource } from "../cursor.ts";
import { CaptureError, ScreenCapture } from "../native.ts";
import { Recorder } from "../recorder.ts";
import { SealPool } from "../seal-pool.ts";
import { DEFAULT_ZSTD_LEVEL } from "../seal.ts";
import { Spool, SpoolFullError } from "../spool.ts";
import type { Uploader } from "../uploader.ts";
import { EXIT, UsageError, positiveNumber } from "./exit-codes.ts";
import { nodeToken, uploaderFromArgs, uploadOptions } from "./upload.ts";

export const RECORD_HELP = `lucid-agent record (--display :N | --device /dev/videoN) --out DIR [options]

Records an X display losslessly into encrypted ~10 MB chunks spooled in DIR, uploading them when
--server is given. Run it again with the same DIR after a crash: it resumes the session (same id,
next chunk index) and uploads whatever is still spooled. Ctrl-C stops cleanly: the open chunk is
sealed and, with --server, the spool is drained before exit (a second Ctrl-C exits at once).

  --display :N          X display to capture; \`-\` reads it from stdin's first line, so everything else is
                        ready before the display exists (the xrdp bridge starts recorders ahead of logins)
  --device PATH         or a V4L2 device (MMAP streaming; YUYV preferred, else MJPEG)
  --size WxH            size to ask the V4L2 device for (default 1920x1080; the driver may pick another)
  --out DIR             spool directory (required); holds session.json, session.key, chunks/
  --session ID          session id (default: a new UUID, or the one already in DIR)
  --first-index N       first chunk index (a session handed over from another node continues at its count;
                        never below what DIR already holds)
  --key-file FILE       32-byte data key as hex (default: DIR/session.key, created if missing)
  --fps N               frames captured a second, at most (default 10); with X DAMAGE only what was
                        drawn is grabbed, and nothing when nothing was
  --no-cursor           leave the pointer out (by default its position and shape are recorded from XFixes as
                        events beside the cursor-free pixels; a V4L2 device's pixels already show it)
  --poll                grab whole frames every tick instead of following DAMAGE (the old capture, for comparison)
  --tile N              tile edge in pixels, 8..255 (default 64)
  --zstd-level N        zstd level 1..19 (default 5)
  --chunk-mb N          sealed (compressed, encrypted) MB a chunk, at most (default 10; may pass it by one frame)
  --chunk-seconds N     longest span of one chunk (default 60); a chunk closes at whichever comes first
  --keyframe-seconds N  a keyframe opens every chunk and follows every N seconds within one (default 60)
  --duration N          stop after N seconds (default: until Ctrl-C)
  --spool-quota-mb N    spool disk quota (default 1024); reaching it stops recording (exit 73)
  --interaction P       what of the user's input is recorded beside the pixels (X displays only):
                        none (default), metadata (focused window and its title, clicks, key counts a
                        second, clipboard sizes) or full (also typed text and clipboard text)
${uploadOptions}
  --start-session       POST URL/api/v1/sessions/ID/start (created → recording) once capture has begun,
                        retrying, before the first upload
  --uploads-paused      start with uploads held (chunks are recorded and spooled, not sent)
  --control-stdin       take control lines on stdin: "uploads pause", "uploads resume" (lucid-agent run
                        uses this to hold uploads during an emergency lockdown without stopping capture);
                        with --display -, any other line while the display is awaited is its name
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
      "first-index": { type: "string" },
      "key-file": { type: "string" },
      fps: { type: "string" },
      tile: { type: "string" },
      "zstd-level": { type: "string" },
      "chunk-mb": { type: "string" },
      "chunk-seconds": { type: "string" },
      "keyframe-seconds": { type: "string" },
      poll: { type: "boolean" },
      "no-cursor": { type: "boolean" },
      duration: { type: "string" },
      "spool-quota-mb": { type: "string" },
      interaction: { type: "string" },
      server: { type: "string" },
      "token-file": { type: "string" },
      concurrency: { type: "string" },
      "start-session": { type: "boolean" },
      "uploads-paused": { type: "boolean" },
      "control-stdin": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return (log(RECORD_HELP), EXIT.ok);
  if (!(values.display || values.device) || !values.out) throw new UsageError("record needs --display (or --device) and --out");
  if (values.display && values.device) throw new UsageError("record takes --display or --device, not both");
  const size = /^(\d{1,5})x(\d{1,5})$/.exec(values.size ?? "1920x1080");
  if (!size) throw new UsageError(`--size must look like 1280x720, got "${values.size}"`);
  const tileSize = positiveNumber(values.tile, "tile", 64, true);
  if (tileSize < 8 || tileSize > 255) throw new UsageError("--tile must be 8..255");
  const zstdLevel = positiveNumber(values["zstd-level"], "zstd-level", DEFAULT_ZSTD_LEVEL, true);
  if (zstdLevel > 19) throw new UsageError("--zstd-level must be 1..19");
  const fps = positiveNumber(values.fps, "fps", 10);
  const chunkBytes = Math.round(positiveNumber(values["chunk-mb"], "chunk-mb", 10) * 1024 * 1024);
  const maxChunkMs = positiveNumber(values["chunk-seconds"], "chunk-seconds", 60) * 1000;
  const keyframeMs = positiveNumber(values["keyframe-seconds"], "keyframe-seconds", 60) * 1000;
  const durationMs = values.duration === undefined ? Infinity : positiveNumber(values.duration, "duration", 1) * 1000;
  const policy = InteractionPolicy.safeParse(values.interaction ?? "none");
  if (!policy.success) throw new UsageError(`--interaction must be none, metadata or full, got "${values.interaction}"`);
  if (policy.data !== "none" && !values.display)
    throw new UsageError("--interaction needs --display (a V4L2 device has no input to record)");
  const quotaBytes = Math.round(positiveNumber(values["spool-quota-mb"], "spool-quota-mb", 1024) * 1024 * 1024);

  const firstIndex = values["first-index"] === undefined ? undefined : Number(values["first-index"]);
  if (firstIndex !== undefined && !(Number.isSafeInteger(firstIndex) && firstIndex >= 0))
    throw new UsageError("--first-index must be a whole number ≥ 0");
  const spool = await Spool.open(values.out, { sessionId: values.session, quotaBytes, firstIndex });
  process.once("exit", () => spool.close()); // every way out but kill -9, which the next run detects
  const keyPath = values["key-file"] ?? join(values.out, "session.key");
  const key = values["key-file"] ? readKey(keyPath) : readOrCreateKey(keyPath).key;
  const uploader = uploaderFromArgs(values, spool, log);

  if (values["start-session"] && !(uploader && values.session)) throw new UsageError("--start-session needs --server and --session");
  if (values["uploads-paused"]) {
    if (!uploader) throw new UsageError("--uploads-paused needs --server");
    uploader.pause();
    log("uploads paused");
  }

  // Signals are handled from here on: a recorder still waiting for its display stops cleanly too.
  const stopCapture = new AbortController();
  const stopUpload = new AbortController();
  let signals = 0;
  const onSignal = () => {
    if (++signals === 1) stopCapture.abort();
    else stopUpload.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let source = values.display ?? values.device!;
  const fromStdin = source === "-";
  const stdin = fromStdin || values["control-stdin"] ? stdinLines(values["control-stdin"] ? uploader : null, log, fromStdin) : null;
  const detach = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    stdin?.close();
  };

  const pool = new SealPool(); // its worker threads start while the display is awaited
  if (fromStdin) {
    log("waiting for the display name on stdin");
    const line = await stdin!.display(stopCapture.signal);
    if (line === null) return (detach(), await pool.close(), log("stopped before a display was given"), EXIT.ok);
    source = line;
    if (!values["control-stdin"]) stdin!.close();
  }
  let capture: ScreenCapture;
  try {
    capture = values.display
      ? await openX11(source, fromStdin ? 10_000 : 0, stopCapture.signal, { damage: !values.poll })
      : ScreenCapture.openV4l2(values.device!, { width: Number(size[1]), height: Number(size[2]) });
  } catch (err) {
    detach();
    await pool.close();
    if (err instanceof CaptureError) return (log(`error: ${err.message}`), EXIT.captureFailed);
    throw err;
  }
  const info = capture.info();
  if (info.note) log(`note: ${info.note}`);
  const interaction = openInteraction(source, policy.data, log);
  let cursor: CursorSource | null = null;
  if (values.display && !values["no-cursor"]) {
    try {
      cursor = CursorSource.openX11(source, (message) => log(`warning: the cursor is no longer recorded: ${message}`));
      const note = cursor.info().note;
      if (note) log(`note: ${note}`);
    } catch (err) {
      if (!(err instanceof CaptureError)) throw err;
      log(`warning: the cursor is not recorded: ${err.message}`);
    }
  }
  log(`recording ${source} (${info.width}x${info.height}) as session ${spool.sessionId} from chunk ${spool.nextIndex} into ${values.out}`);
  const timer = Number.isFinite(durationMs) ? setTimeout(() => stopCapture.abort(), durationMs) : null;

  const recorder = new Recorder({
    capture,
    spool,
    pool,
    key,
    tileSize,
    zstdLevel,
    chunkBytes,
    maxChunkMs,
    keyframeMs,
    fps,
    eventSources: [...(cursor ? [cursor] : []), ...(interaction ? [interaction] : [])],
    onEvent: (e) =>
      log(
        e.kind === "chunk"
          ? `chunk ${e.index}: ${e.frames} frames, ${e.plainSize} B → zstd ${e.compressedSize} B → sealed ${e.size} B, spooled`
          : e.kind === "first-frame"
            ? `first frame captured at ${e.epochMs}`
            : `warning: ${e.pending} chunks waiting to be sealed or written; capture waits`,
      ),
  });
  let recording = true;
  const uploading = uploader
    ? (async () => {
        if (values["start-session"])
          await startWithRetry(values.server!, values.session!, nodeToken(values)!, uploader, () => !recording, stopUpload.signal, log);
        await uploader.run({ signal: stopUpload.signal, done: () => !recording });
      })()
    : undefined;
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
    interaction?.close();
    cursor?.close();
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
  detach();
  return code;
}

/**
 * Lines from the parent agent on stdin. With `uploader` (--control-stdin), "uploads pause" and
 * "uploads resume" hold and release uploads at any time; any other line answers `display()`
 * (--display -). Once no display is awaited, stdin no longer keeps the process alive, so an error path
 * that skips close() still exits.
 */
function stdinLines(uploader: Uploader | null, log: (line: string) => void, awaitsDisplay: boolean) {
  const lines = createInterface({ input: process.stdin });
  const unref = () => (process.stdin as { unref?: () => void }).unref?.();
  if (!awaitsDisplay) unref();
  let waiting: ((line: string | null) => void) | null = null;
  let closed = false;
  lines.on("line", (raw) => {
    const line = raw.trim();
    if (uploader && line === "uploads pause") return (uploader.pause(), log("uploads paused"));
    if (uploader && line === "uploads resume") return (uploader.resume(), log("uploads resumed"));
    if (waiting && line) {
      const answer = waiting;
      waiting = null;
      unref();
      return answer(line);
    }
    if (line) log(`warning: ignored control line "${line.slice(0, 60)}"`);
  });
  lines.on("close", () => {
    closed = true;
    waiting?.(null);
  });
  return {
    /** The next non-control line, or null when stdin ends or `signal` aborts first. */
    display(signal: AbortSignal): Promise<string | null> {
      if (closed || signal.aborted) return Promise.resolve(null);
      return new Promise((resolve) => {
        waiting = resolve;
        signal.addEventListener("abort", () => resolve(null), { once: true });
      });
    },
    close() {
      if (closed) return;
      closed = true;
      lines.close();
      process.stdin.destroy();
    },
  };
}

/**
 * The interaction source of `policy` (none opens nothing). A display that cannot give interaction
 * events is recorded without them, and the log says so.
 */
function openInteraction(display: string, policy: InteractionPolicy, log: (line: string) => void): InteractionSource | null {
  try {
    const source = InteractionSource.open(display, policy, (err) => log(`warning: interaction events stopped: ${err.message}`));
    if (source) log(`recording interaction events under the ${policy} policy`);
    return source;
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    log(`warning: interaction events are not recorded: ${err.message}`);
    return null;
  }
}

/** Opens an X display, retrying for up to `patienceMs` while its server is still starting. */
async function openX11(display: string, patienceMs: number, signal: AbortSignal, options: { damage: boolean }): Promise<ScreenCapture> {
  const deadline = performance.now() + patienceMs;
  for (;;) {
    try {
      return ScreenCapture.openX11(display, options);
    } catch (err) {
      if (!(err instanceof CaptureError) || performance.now() >= deadline || signal.aborted) throw err;
      await sleep(50, signal);
    }
  }
}

/** POST …/start until it lands (or the upload is stopped): uploads before it would be refused for good. */
async function startWithRetry(
  server: string,
  sessionId: string,
  token: string,
  uploader: Uploader,
  stopped: () => boolean,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    // A held uploader (lockdown) holds this write too: the server would refuse it. Stopped while
    // held, the recorder leaves it (and its chunks, spooled) to the next run.
    if (!(await uploader.mayGo(signal, stopped))) return;
    try {
      await startSessionWithToken(server, sessionId, token);
      return log(`session ${sessionId} is recording on the server`);
    } catch (err) {
      const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
      log(`${(err as Error).message}; retrying in ${delay} ms`);
      await sleep(delay, signal);
    }
  }
}
