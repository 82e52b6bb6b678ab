/**
 * The recording player: a canvas, play/pause, a time slider and keyframe seeking, all usable
 * from the keyboard (Space, ←/→ one second, PageUp/PageDown keyframes, Home/End).
 * The canvas carries data-frame-ms (the shown frame's capture time) and data-cursor ("x,y", the
 * recorded pointer drawn over the cursor-free pixels, or "") for tests and tools.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { mergeInteractions, type TimedInteraction } from "../lib/interaction.ts";
import { Recording, type Frame, type LoadProgress } from "../lib/playback.ts";
import { ErrorBox, Progress } from "./feedback.tsx";
import { InteractionList, InteractionTimeline } from "./interactions.tsx";

type Status = "idle" | "loading" | "paused" | "playing" | "ended";

const clock = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

/**
 * `startChunk` opens the recording at that chunk (a search hit's first matching chunk);
 * `policy` is the session's interaction policy, said when there are no events to show.
 */
export function Player({ sessionId, startChunk, policy }: { sessionId: string; startChunk?: number; policy?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const recording = useRef<Recording | null>(null);
  const playToken = useRef(0);
  const [status, setStatus] = useState<Status>("idle");
  const [progress, setProgress] = useState<LoadProgress | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [frameMs, setFrameMs] = useState<number | null>(null);
  const [keyframes, setKeyframes] = useState<number[]>([]);
  const [speed, setSpeed] = useState(1);
  const [interactions, setInteractions] = useState<TimedInteraction[]>([]);
  const shownMs = useRef<number | null>(null);

  useEffect(() => () => void playToken.current++, []);

  function draw(frame: Frame) {
    const el = canvas.current!;
    if (el.width !== frame.width || el.height !== frame.height) {
      el.width = frame.width;
      el.height = frame.height;
    }
    const ctx = el.getContext("2d", { willReadFrequently: true })!;
    // Decoded frames live in plain ArrayBuffers (never shared); the DOM typings want that said.
    ctx.putImageData(
      new ImageData(
        new Uint8ClampedArray(frame.rgba.buffer as ArrayBuffer, frame.rgba.byteOffset, frame.rgba.byteLength),
        frame.width,
        frame.height,
      ),
      0,
      0,
    );
    el.dataset.frameMs = String(frame.epochMs);
    el.dataset.cursor = frame.cursor ? `${frame.cursor.x},${frame.cursor.y}` : "";
    shownMs.current = frame.epochMs;
    setFrameMs(frame.epochMs);
  }

  /** What an opened chunk tells about the whole recording: its keyframes and its interaction events. */
  async function learnKeyframes(rec: Recording, chunkIndex: number) {
    const found = await rec.keyframes(chunkIndex);
    setKeyframes((known) => [...new Set([...known, ...found])].sort((a, b) => a - b));
    const events = await rec.interactions(chunkIndex);
    setInteractions((known) => mergeInteractions(known, events));
  }

  async function load() {
    setStatus("loading");
    setError(null);
    try {
      setProgress({ phase: "Fetching the manifest and the session key", done: 0, total: 0 });
      const rec = await Recording.open(sessionId);
      recording.current = rec;
      setKeyframes(rec.manifest.chunks.map((c) => c.captureStart));
      const first = rec.manifest.chunks.find((c) => c.index === startChunk)?.captureStart ?? rec.start;
      draw(await rec.frameAt(first, setProgress));
      await learnKeyframes(rec, rec.chunkAt(first).index);
      setStatus("paused");
    } catch (e) {
      setError(e);
      setStatus(recording.current ? "paused" : "idle");
    } finally {
      setProgress(null);
    }
  }

  async function seek(epochMs: number) {
    const rec = recording.current;
    if (!rec) return;
    playToken.current++;
    const target = Math.min(Math.max(epochMs, rec.start), rec.end);
    setStatus("loading");
    try {
      draw(await rec.frameAt(target, setProgress));
      await learnKeyframes(rec, rec.chunkAt(target).index);
      setStatus(target >= rec.end ? "ended" : "paused");
    } catch (e) {
      setError(e);
      setStatus("paused");
    } finally {
      setProgress(null);
    }
  }

  async function play() {
    const rec = recording.current;
    if (!rec || shownMs.current === null) return;
    const token = ++playToken.current;
    setStatus("playing");
    const from = shownMs.current >= rec.end ? rec.start : shownMs.current;
    if (from !== shownMs.current) draw(await rec.frameAt(from));
    const wallStart = performance.now();
    try {
      for (const chunk of rec.manifest.chunks) {
        if (chunk.captureEnd < from) continue;
        void learnKeyframes(rec, chunk.index);
        for await (const frame of rec.framesAfter(chunk.index, shownMs.current!)) {
          const due = wallStart + (frame.epochMs - from) / speed;
          while (performance.now() < due) {
            await new Promise((r) => requestAnimationFrame(r));
            if (token !== playToken.current) return;
          }
          if (token !== playToken.current) return;
          draw(frame);
        }
      }
      if (token === playToken.current) setStatus("ended");
    } catch (e) {
      if (token === playToken.current) {
        setError(e);
        setStatus("paused");
      }
    }
  }

  const pause = () => {
    playToken.current++;
    setStatus("paused");
  };
  const toggle = () => (status === "playing" ? pause() : void play());
  const rec = recording.current;
  const previousKeyframe = () => {
    const now = shownMs.current ?? 0;
    const before = keyframes.filter((k) => k < now);
    void seek(before.length ? before[before.length - 1]! : rec!.start);
  };
  const nextKeyframe = () => {
    const after = keyframes.find((k) => k > (shownMs.current ?? 0));
    if (after !== undefined) void seek(after);
  };

  function onKey(event: KeyboardEvent) {
    if (!rec || (event.target as HTMLElement).tagName === "INPUT") return;
    const actions: Record<string, () => void> = {
      " ": toggle,
      k: toggle,
      ArrowLeft: () => void seek((shownMs.current ?? rec.start) - 1000),
      ArrowRight: () => void seek((shownMs.current ?? rec.start) + 1000),
      PageUp: previousKeyframe,
      PageDown: nextKeyframe,
      Home: () => void seek(rec.start),
      End: () => void seek(rec.end),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  return (
    <section class="player" aria-labelledby="player-heading" onKeyDown={onKey}>
      <h2 id="player-heading">Playback</h2>
      {status === "idle" && (
        <p>
          Playing fetches the session's data key (the release is logged in the session's events) and decrypts the chunks in this browser.{" "}
          <button type="button" onClick={load}>
            {startChunk === undefined ? "Load recording" : `Load recording at chunk ${startChunk}`}
          </button>
        </p>
      )}
      <div
        class="screen"
        tabIndex={rec ? 0 : -1}
        aria-label="Recording; Space plays or pauses, arrows seek one second, Page Up and Page Down jump between keyframes"
      >
        <canvas
          ref={canvas}
          width={0}
          height={0}
          data-state={status}
          aria-label={frameMs === null ? "No frame loaded" : `Frame recorded at ${new Date(frameMs).toISOString()}`}
        />
      </div>
      {progress && <Progress label={progress.phase} done={progress.done} total={progress.total} />}
      <ErrorBox error={error} />
      {rec && (
        <div class="controls">
          <button type="button" onClick={toggle} aria-keyshortcuts="Space">
            {status === "playing" ? "Pause" : status === "ended" ? "Replay" : "Play"}
          </button>
          <button type="button" onClick={previousKeyframe} aria-keyshortcuts="PageUp">
            ◀ Keyframe
          </button>
          <button type="button" onClick={nextKeyframe} aria-keyshortcuts="PageDown">
            Keyframe ▶
          </button>
          <div class="seek">
            <label>
              <span class="visually-hidden">Position</span>
              <input
                type="range"
                name="position"
                min={0}
                max={rec.end - rec.start}
                step={1}
                value={frameMs === null ? 0 : frameMs - rec.start}
                onChange={(e) => void seek(rec.start + Number(e.currentTarget.value))}
                aria-valuetext={frameMs === null ? undefined : `${clock(frameMs - rec.start)} of ${clock(rec.end - rec.start)}`}
              />
            </label>
            <InteractionTimeline events={interactions} start={rec.start} end={rec.end} onSeek={(ms) => void seek(ms)} />
          </div>
          <output class="time" aria-live="off">
            {clock((frameMs ?? rec.start) - rec.start)} / {clock(rec.end - rec.start)}
          </output>
          <label>
            Speed
            <select value={String(speed)} onChange={(e) => setSpeed(Number(e.currentTarget.value))}>
              {[0.5, 1, 2, 4, 8].map((s) => (
                <option value={String(s)}>{s}×</option>
              ))}
            </select>
          </label>
          <span class="muted" data-status={status}>
            {status} · {rec.manifest.chunks.length} chunks · {keyframes.length} keyframes known
          </span>
        </div>
      )}
      {rec && <InteractionList events={interactions} start={rec.start} policy={policy} onSeek={(ms) => void seek(ms)} />}
    </section>
  );
}
