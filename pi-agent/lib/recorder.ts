/**
 * Capture → recording stream, zstd-compressed as it is recorded → chunks of ~chunkBytes sealed →
 * encrypted on worker threads → spooled in index order. Every chunk opens with a stream header and
 * a keyframe, so it decodes on its own; within a chunk a keyframe follows every keyframeMs, so a
 * player seeks without decoding from the chunk's start.
 */
import { createZstdCompress, type ZstdCompress } from "node:zlib";
import { CHUNK_TAG_BYTES } from "../../shared/chunk.ts";
import {
  RecordType,
  encodeEventRecord,
  encodeRecordHeader,
  encodeStreamHeader,
  type RecordingEvent,
} from "../../shared/recording/index.ts";
import type { ScreenCapture } from "./native.ts";
import { zstdParams } from "./seal.ts";
import type { SealPool } from "./seal-pool.ts";
import { mergeTerms, type ChunkTerms } from "./terms.ts";
import type { Spool } from "./spool.ts";

export interface RecorderOptions {
  capture: ScreenCapture;
  spool: Spool;
  pool: SealPool;
  key: Uint8Array;
  tileSize: number;
  zstdLevel: number;
  /** cut a chunk once it would seal to this many bytes (it may pass it by up to one frame) */
  chunkBytes: number;
  /** …or once it spans this long, so a quiet screen still uploads regularly */
  maxChunkMs: number;
  /** a keyframe opens every chunk and follows every keyframeMs within one (default 60 s) */
  keyframeMs?: number;
  fps: number;
  /** chunks sealed or being written before capture waits for them (bounds memory) */
  maxPendingChunks?: number;
  onEvent?: (event: RecorderEvent) => void;
  /** What the recorder writes beside the pixels as event records (cursor, interaction). */
  eventSources?: EventSource[];
}

/**
 * A source of event records (stream version 2). The recorder drains every source once a tick and
 * writes its events in time order; a new chunk repeats each source's snapshot right after its first
 * keyframe, so every chunk can be played on its own.
 */
export interface EventSource {
  /**
   * Events since the last call, oldest first, each with its wall-clock ms. With `flush` (a chunk is
   * being cut) a source that aggregates (key counts, typed text) hands over what it holds.
   */
  drain(options?: { flush?: boolean }): Array<{ epochMs: number; event: RecordingEvent }>;
  /** The state a chunk opens with (cursor shape and position, the focused window). */
  snapshot(): RecordingEvent[];
  /** Search terms seen since the last call, taken when a chunk is cut and spooled beside it. */
  takeTerms?(): ChunkTerms;
}

export type RecorderEvent =
  | { kind: "chunk"; index: number; plainSize: number; compressedSize: number; size: number; frames: number }
  | { kind: "backlog"; pending: number }
  /** the first frame is in: what the display showed from this moment on is recorded */
  | { kind: "first-frame"; epochMs: number };

/**
 * Node flags for a recorder process (`lucid-agent record`, spawned once per recorded desktop).
 * V8's parallel and concurrent GC threads cost more CPU than they save for a heap this small:
 * measured under the office workload, one GC thread took the agent from ~0.6 to ~0.45–0.5 CPU-s a
 * minute (BENCH agent-cpu).
 */
export const RECORDER_NODE_FLAGS: readonly string[] = ["--single-threaded-gc"];

/** Records are handed to zstd once this many bytes or this long has gathered. */
const HOLD_BYTES = 256 * 1024;
const HOLD_MS = 2000;

interface OpenChunk {
  zstd: ZstdCompress;
  /** compressed output so far, and its size: the chunk seals to that plus the cipher's tag */
  out: Buffer[];
  compressedBytes: number;
  plainBytes: number;
  /** records not yet handed to zstd: batched, so a quiet desktop wakes the compressor rarely */
  held: Uint8Array[];
  heldBytes: number;
  heldSinceMs: number;
  /** settles once every byte written is compressed (after end()) */
  finished: Promise<void>;
  startEpochMs: number;
  lastEpochMs: number;
  lastKeyframeEpochMs: number;
  /** the newest record's t: records never go back in time */
  lastT: number;
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
      // A chunk that has run its time closes before the grab, so the keyframe due at the same moment
      // opens the next chunk instead of ending this one (one keyframe, not two).
      if (chunk && Date.now() - chunk.startEpochMs >= this.o.maxChunkMs) {
        this.cut(chunk);
        chunk = null;
      }
      let result: Awaited<ReturnType<ScreenCapture["next"]>>;
      const keyframe = chunk === null || Date.now() - chunk.lastKeyframeEpochMs >= (this.o.keyframeMs ?? 60_000);
      try {
        result = await this.o.capture.next({ keyframe, tileSize: this.o.tileSize });
      } catch (err) {
        // The display went away: keep what was recorded, then report why recording ended.
        if (chunk) this.cut(chunk);
        await this.writes;
        throw this.failure ?? err;
      }
      if (this.framesCaptured++ === 0) this.o.onEvent?.({ kind: "first-frame", epochMs: result.epochMs });
      if (result.type !== "none") {
        if (result.type === "keyframe" && chunk && !keyframe) {
          this.cut(chunk); // a resize mid-chunk: start the new size in a fresh chunk
          chunk = null;
        }
        const opened = chunk === null;
        chunk ??= this.open(result.epochMs);
        const t = this.timeOf(chunk, result.epochMs);
        // Header and body go to zstd apart: copying a 6 MB keyframe into one buffer cost more
        // main-thread CPU (allocation, page faults, GC) than the rest of a tick.
        this.write(chunk, encodeRecordHeader(RecordType[result.type], t, result.body.length), result.body);
        chunk.lastEpochMs = Math.max(chunk.lastEpochMs, result.epochMs);
        if (result.type === "keyframe") chunk.lastKeyframeEpochMs = result.epochMs;
        chunk.frames++;
        if (opened) for (const source of this.o.eventSources ?? []) for (const event of source.snapshot()) this.writeEvent(chunk, t, event);
      }
      if (chunk) this.drainEvents(chunk);
      if (chunk && this.sealedEstimate(chunk) >= this.o.chunkBytes) {
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
    if (chunk && !this.failure) this.cut(chunk); // cut() drains the sources first
    await this.writes;
    if (this.failure) throw this.failure;
  }

  /** Record time within the chunk: ms since its start, never before the previous record. */
  private timeOf(chunk: OpenChunk, epochMs: number): number {
    chunk.lastT = Math.max(chunk.lastT, epochMs - chunk.startEpochMs);
    return chunk.lastT;
  }

  private writeEvent(chunk: OpenChunk, t: number, event: RecordingEvent): void {
    this.write(chunk, encodeEventRecord(t, event));
  }

  /**
   * Every source's new events into the open chunk. Events of a tick without a chunk (only between
   * a cut and the next keyframe) wait in the source until one opens.
   */
  private drainEvents(chunk: OpenChunk, flush = false): void {
    for (const source of this.o.eventSources ?? []) {
      for (const { epochMs, event } of source.drain({ flush })) {
        this.writeEvent(chunk, this.timeOf(chunk, epochMs), event);
        chunk.lastEpochMs = Math.max(chunk.lastEpochMs, epochMs);
      }
    }
  }

  /** A new chunk: its stream header, compressed on the libuv pool as records arrive. */
  private open(startEpochMs: number): OpenChunk {
    const zstd = createZstdCompress({ params: zstdParams(this.o.zstdLevel) });
    const chunk: OpenChunk = {
      zstd,
      out: [],
      compressedBytes: 0,
      plainBytes: 0,
      held: [],
      heldBytes: 0,
      heldSinceMs: startEpochMs,
      finished: new Promise((resolve, reject) => {
        zstd.on("end", resolve);
        zstd.on("error", reject);
      }),
      startEpochMs,
      lastEpochMs: startEpochMs,
      lastKeyframeEpochMs: startEpochMs,
      lastT: 0,
      frames: 0,
    };
    chunk.finished.catch(() => {}); // awaited by cut(); a failure surfaces there
    zstd.on("data", (piece: Buffer) => {
      chunk.out.push(piece);
      chunk.compressedBytes += piece.length;
    });
    this.write(chunk, encodeStreamHeader(this.o.tileSize, startEpochMs));
    return chunk;
  }

  private write(chunk: OpenChunk, bytes: Uint8Array, body?: Uint8Array): void {
    const size = bytes.length + (body?.length ?? 0);
    chunk.plainBytes += size;
    // Big records (keyframes, a page turned) go at once and uncopied: one hop is nothing next to
    // their size, and the size estimate would count them uncompressed while held.
    if (size >= HOLD_BYTES / 4) {
      this.release(chunk);
      chunk.zstd.write(bytes);
      if (body) chunk.zstd.write(body);
      return;
    }
    if (chunk.held.length === 0) chunk.heldSinceMs = Date.now();
    chunk.held.push(bytes);
    if (body) chunk.held.push(body);
    chunk.heldBytes += size;
    if (chunk.heldBytes >= HOLD_BYTES || Date.now() - chunk.heldSinceMs >= HOLD_MS) this.release(chunk);
  }

  private release(chunk: OpenChunk): void {
    if (chunk.held.length === 0) return;
    chunk.zstd.write(chunk.held.length === 1 ? chunk.held[0]! : Buffer.concat(chunk.held, chunk.heldBytes));
    chunk.held = [];
    chunk.heldBytes = 0;
  }

  /** The chunk's sealed size if it closed now, counting held records at full size. */
  private sealedEstimate(chunk: OpenChunk): number {
    return chunk.compressedBytes + chunk.heldBytes + CHUNK_TAG_BYTES;
  }

  private cut(chunk: OpenChunk): void {
    this.drainEvents(chunk, true);
    const terms = mergeTerms((this.o.eventSources ?? []).flatMap((source) => source.takeTerms?.() ?? []));
    this.release(chunk);
    chunk.zstd.end();
    const index = this.o.spool.takeIndex();
    const sessionId = this.o.spool.sessionId;
    const sealing = chunk.finished.then(() =>
      this.o.pool.seal({
        plain: Buffer.concat(chunk.out),
        plainSize: chunk.plainBytes,
        sessionId,
        index,
        key: this.o.key,
        zstdLevel: this.o.zstdLevel,
      }),
    );
    sealing.catch(() => {}); // awaited in order below; a failure is reported there
    this.pending++;
    // Written strictly in index order, so a crash leaves a contiguous run of chunks.
    this.writes = this.writes.then(async () => {
      try {
        if (this.failure) return;
        const sealed = await sealing;
        await this.o.spool.writeSealed(index, sealed, { start: chunk.startEpochMs, end: chunk.lastEpochMs }, terms);
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
