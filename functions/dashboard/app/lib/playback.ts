/**
 * Recording playback in the browser: the manifest and the session's data key from the API,
 * chunks fetched and opened on demand (lib/open-chunk.ts), frames found by wall-clock time and
 * decoded by the shared decoder (shared/recording). Every chunk starts with a keyframe, so a
 * seek decodes only the chunk that holds the target time.
 */
import { call, getJson, type Answer, type Api } from "./api.ts";
import {
  frameInChunk,
  framesInChunk,
  fromBase64,
  indexRecords,
  openChunk,
  PlaybackError,
  type ManifestChunk,
  type ShownFrame,
} from "./open-chunk.ts";
import { interactionsOf, type TimedInteraction } from "./interaction.ts";

export { PlaybackError, type ManifestChunk };

export type Manifest = Answer<Api["sessions"][":id"]["manifest"]["$get"]>;

export interface LoadProgress {
  phase: string;
  done: number;
  total: number;
}

/**
 * One session's recording: the manifest and key, chunks fetched and opened on demand (the two
 * most recent kept), and frame lookup by wall-clock time.
 */
export class Recording {
  readonly sessionId: string;
  readonly manifest: Manifest;
  private readonly key: Uint8Array;
  private readonly cache = new Map<number, Promise<Uint8Array>>();

  private constructor(sessionId: string, manifest: Manifest, key: Uint8Array) {
    this.sessionId = sessionId;
    this.manifest = manifest;
    this.key = key;
  }

  static async open(sessionId: string): Promise<Recording> {
    const manifest = await getJson<Manifest>(`/sessions/${sessionId}/manifest`);
    if (manifest.chunks.length === 0) throw new PlaybackError("the session has no recorded chunks");
    const { key } = await getJson<{ key: string }>(`/sessions/${sessionId}/key`);
    const bytes = fromBase64(key);
    if (bytes.length !== 32) throw new PlaybackError("the data key is not 32 bytes");
    return new Recording(sessionId, { ...manifest, chunks: [...manifest.chunks].sort((a, b) => a.index - b.index) }, bytes);
  }

  get start(): number {
    return this.manifest.chunks[0]!.captureStart;
  }

  get end(): number {
    return this.manifest.chunks[this.manifest.chunks.length - 1]!.captureEnd;
  }

  /** The chunk whose capture span holds `epochMs` (the last one starting at or before it). */
  chunkAt(epochMs: number): ManifestChunk {
    const chunks = this.manifest.chunks;
    let found = chunks[0]!;
    for (const chunk of chunks) if (chunk.captureStart <= epochMs) found = chunk;
    return found;
  }

  /** The plain stream of a chunk, downloaded with progress and opened once. */
  plain(index: number, onProgress?: (p: LoadProgress) => void): Promise<Uint8Array> {
    let pending = this.cache.get(index);
    if (!pending) {
      pending = this.fetchAndOpen(index, onProgress);
      pending.catch(() => this.cache.delete(index));
      this.cache.set(index, pending);
      while (this.cache.size > 2) this.cache.delete(this.cache.keys().next().value!);
    }
    return pending;
  }

  private async fetchAndOpen(index: number, onProgress?: (p: LoadProgress) => void): Promise<Uint8Array> {
    const chunk = this.manifest.chunks.find((c) => c.index === index);
    if (!chunk) throw new PlaybackError(`no chunk ${index}`);
    const res = await call(`/sessions/${this.sessionId}/chunks/${index}`, { headers: { Accept: "application/octet-stream" } });
    const sealed = new Uint8Array(chunk.size);
    let received = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (received + value.length > sealed.length) throw new PlaybackError(`chunk ${index} is longer than the manifest says`);
      sealed.set(value, received);
      received += value.length;
      onProgress?.({ phase: `Downloading chunk ${index + 1} of ${this.manifest.chunks.length}`, done: received, total: chunk.size });
    }
    if (received !== chunk.size) throw new PlaybackError(`chunk ${index} is ${received} bytes, the manifest says ${chunk.size}`);
    onProgress?.({ phase: `Decrypting chunk ${index + 1}`, done: chunk.size, total: chunk.size });
    return openChunk(this.sessionId, chunk, this.key, sealed);
  }

  /** Keyframe times across the chunks opened so far plus every chunk's start (always a keyframe). */
  async keyframes(index: number): Promise<number[]> {
    return indexRecords(await this.plain(index))
      .filter((r) => r.type === "keyframe")
      .map((r) => r.epochMs);
  }

  /** The interaction events recorded in a chunk (shared/recording/events.ts). */
  async interactions(index: number): Promise<TimedInteraction[]> {
    return interactionsOf(await this.plain(index), index);
  }

  /**
   * The frame shown at `epochMs`: decodes the chunk from its first keyframe up to the last
   * record at or before that time. Returns a copy of the pixels (RGBA, with the recorded cursor
   * drawn over them) and its record time.
   */
  async frameAt(epochMs: number, onProgress?: (p: LoadProgress) => void): Promise<Frame> {
    const chunk = this.chunkAt(epochMs);
    const frame = frameInChunk(await this.plain(chunk.index, onProgress), epochMs);
    if (!frame) throw new PlaybackError(`chunk ${chunk.index} holds no frame`);
    return { ...frame, chunk: chunk.index };
  }

  /** The frames of a chunk recorded after `afterEpochMs` (and each cursor change between them), in order, for continuous play. */
  async *framesAfter(index: number, afterEpochMs: number): AsyncGenerator<Frame> {
    const plain = await this.plain(index);
    // Start fetching the next chunk while this one plays.
    if (this.manifest.chunks.some((c) => c.index === index + 1)) void this.plain(index + 1).catch(() => {});
    for (const frame of framesInChunk(plain, afterEpochMs)) yield { ...frame, chunk: index };
  }
}

export interface Frame extends ShownFrame {
  chunk: number;
}
