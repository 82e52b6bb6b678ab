/**
 * Capture → recording stream → ~chunkBytes chunks → sealed on worker threads → spooled in index
 * order. Every chunk opens with a stream header and a keyframe, so it decodes on its own.
 */
import { RecordType, encodeRecord, encodeStreamHeader } from "../../shared/recording/index.ts";
import type { ScreenCapture } from "./native.ts";
import type { SealPool } from "./seal-pool.ts";
import type { Spool } from "./spool.ts";

export interface RecorderOptions {
  capture: ScreenCapture;
  spool: Spool;
  pool: SealPool;
  key: Uint8Array;
  tileSize: number;
  zstdLevel: number;
  /** cut a chunk once its plain stream reaches this many bytes */
  chunkBytes: number;
  /** …or once it spans this long, so a quiet screen still uploads regularly */
  maxChunkMs: number;
  fps: number;
  /** chunks sealed or being written before capture waits for them (bounds memory) */
  maxPendingChunks?: number;
  onEvent?: (event: RecorderEvent) => void;
}

export type RecorderEvent =
  | { kind: "chunk"; index: number; plainSize: number; compressedSize: number; size: number; frames: number }
  | { kind: "backlog"; pending: number }
  /** the first frame is in: what the display showed from this moment on is recorded */
  | { kind: "first-frame"; epochMs: number };

interface OpenChunk {
  parts: Uint8Array[];
  bytes: number;
  startEpochMs: number;
  lastEpochMs: number;
  frames: number;
}

export class Recorder {
  private readonly o: RecorderOptions;
  private writes: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: Error | null = null;
  framesCaptured = 0;

  constructor(options: RecorderOptions) {
    this.o = options;
  }

  /** Records until `signal` aborts or a chunk cannot be spooled (that error is thrown). */
  async run(signal: AbortSignal): Promise<void> {
    const frameMs = 1000 / this.o.fps;
    let chunk: OpenChunk | null = null;
    let nextTick = performance.now();
    while (!signal.aborted && !this.failure) {
      let result: Awaited<ReturnType<ScreenCapture["next"]>>;
      try {
        result = await this.o.capture.next({ keyframe: chunk === null, tileSize: this.o.tileSize });
      } catch (err) {
        // The display went away: keep what was recorded, then report why recording ended.
        if (chunk) this.cut(chunk);
        await this.writes;
        throw this.failure ?? err;
      }
      if (this.framesCaptured++ === 0) this.o.onEvent?.({ kind: "first-frame", epochMs: result.epochMs });
      if (result.type !== "none") {
        if (result.type === "keyframe" && chunk) {
          this.cut(chunk); // a resize mid-chunk: start the new size in a fresh chunk
          chunk = null;
        }
        chunk ??= {
          parts: [encodeStreamHeader(this.o.tileSize, result.epochMs)],
          bytes: 16,
          startEpochMs: result.epochMs,
          lastEpochMs: result.epochMs,
          frames: 0,
        };
        const t = Math.max(0, result.epochMs - chunk.startEpochMs);
        const record = encodeRecord(RecordType[result.type], t, result.body);
        chunk.parts.push(record);
        chunk.bytes += record.length;
        chunk.lastEpochMs = Math.max(chunk.lastEpochMs, result.epochMs);
        chunk.frames++;
      }
      if (chunk && (chunk.bytes >= this.o.chunkBytes || result.epochMs - chunk.startEpochMs >= this.o.maxChunkMs)) {
        this.cut(chunk);
        chunk = null;
      }
      if (this.pending >= (this.o.maxPendingChunks ?? 4)) {
        this.o.onEvent?.({ kind: "backlog", pending: this.pending });
        await this.writes;
      }
      nextTick += frameMs;
      const wait = nextTick - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else nextTick = performance.now();
    }
    if (chunk && !this.failure) this.cut(chunk);
    await this.writes;
    if (this.failure) throw this.failure;
  }

  private cut(chunk: OpenChunk): void {
    const plain = new Uint8Array(chunk.bytes);
    let o = 0;
    for (const part of chunk.parts) {
      plain.set(part, o);
      o += part.length;
    }
    const index = this.o.spool.takeIndex();
    const sessionId = this.o.spool.sessionId;
    const sealing = this.o.pool.seal({ plain, sessionId, index, key: this.o.key, zstdLevel: this.o.zstdLevel });
    this.pending++;
    // Written strictly in index order, so a crash leaves a contiguous run of chunks.
    this.writes = this.writes.then(async () => {
      try {
        if (this.failure) return;
        const sealed = await sealing;
        await this.o.spool.writeSealed(index, sealed, { start: chunk.startEpochMs, end: chunk.lastEpochMs });
        this.o.onEvent?.({
          kind: "chunk",
          index,
          plainSize: sealed.plainSize,
          compressedSize: sealed.compressedSize,
          size: sealed.ciphertext.length,
          frames: chunk.frames,
        });
      } catch (err) {
        this.failure ??= err as Error;
      } finally {
        this.pending--;
      }
    });
  }
}
