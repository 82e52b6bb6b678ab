/**
 * Opening one sealed chunk, the agent's pipeline reversed (shared/chunk.ts): check its SHA-256
 * against the manifest (no key needed) → XChaCha20-Poly1305 with the session's data key
 * (AAD = session id ‖ index) → zstd decompress → one self-contained recording stream.
 * Pure and DOM-free: the same code runs in the browser, the Node tests and the bench.
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { decompress } from "fzstd";
import { chunkAad, CHUNK_NONCE_BYTES } from "../../../../shared/chunk.ts";
import type { ManifestChunk } from "../../../../shared/session.ts";
import {
  bgrToRgba,
  cursorAt,
  decodeEvents,
  decodeRecording,
  decodeStreamHeader,
  decodeWithCursor,
  drawCursor,
  RECORD_HEADER_BYTES,
  RecordType,
  STREAM_HEADER_BYTES,
  type CursorState,
  type DecodedFrame,
} from "../../../../shared/recording/index.ts";

export type { ManifestChunk };

export class PlaybackError extends Error {
  override name = "PlaybackError";
}

const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
export const fromBase64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

/** Opens one sealed chunk: integrity first (no key needed), then authenticity and decompression. */
export async function openChunk(sessionId: string, chunk: ManifestChunk, key: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
  // Chunks arrive as plain ArrayBuffers (never shared); the DOM typings want that said.
  const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", sealed as Uint8Array<ArrayBuffer>)));
  if (digest !== chunk.sha256) {
    throw new PlaybackError(`chunk ${chunk.index} does not match the manifest (SHA-256 ${digest}, expected ${chunk.sha256})`);
  }
  const nonce = fromHex(chunk.nonce);
  if (nonce.length !== CHUNK_NONCE_BYTES) throw new PlaybackError(`chunk ${chunk.index} has a malformed nonce`);
  let compressed: Uint8Array;
  try {
    compressed = xchacha20poly1305(key, nonce, chunkAad(sessionId, chunk.index)).decrypt(sealed);
  } catch {
    throw new PlaybackError(`chunk ${chunk.index} does not decrypt with the session's key (wrong key or altered data)`);
  }
  try {
    return decompress(compressed);
  } catch (error) {
    throw new PlaybackError(`chunk ${chunk.index} is not valid zstd: ${error instanceof Error ? error.message : error}`);
  }
}

export interface RecordIndexEntry {
  type: "keyframe" | "delta";
  epochMs: number;
}

/**
 * Reads only the record headers of a stream: where its frames (keyframes and deltas) are,
 * without decoding pixels. Event records (version 2) are not frames and are left out, so the
 * n-th entry is the decoder's n-th frame.
 */
export function indexRecords(plain: Uint8Array): RecordIndexEntry[] {
  const { startEpochMs } = decodeStreamHeader(plain);
  const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  const out: RecordIndexEntry[] = [];
  for (let o = STREAM_HEADER_BYTES; o + RECORD_HEADER_BYTES <= plain.length;) {
    const type = plain[o];
    if (type === RecordType.keyframe || type === RecordType.delta) {
      out.push({ type: type === RecordType.keyframe ? "keyframe" : "delta", epochMs: startEpochMs + view.getUint32(o + 1, true) });
    }
    o += RECORD_HEADER_BYTES + view.getUint32(o + 5, true);
  }
  return out;
}

/** A frame to show: RGBA with the recorded cursor drawn over it, and where that cursor is. */
export interface ShownFrame {
  epochMs: number;
  width: number;
  height: number;
  rgba: Uint8Array;
  /** the cursor's hot spot when one is drawn (the recording has a shape and a position), else null */
  cursor: { x: number; y: number } | null;
}

function shown(frame: DecodedFrame, epochMs: number, cursor: CursorState): ShownFrame {
  const rgba = bgrToRgba(frame.pixels);
  drawCursor(rgba, frame.width, frame.height, 4, cursor);
  const at = cursor.shape && cursor.position ? { ...cursor.position } : null;
  return { epochMs, width: frame.width, height: frame.height, rgba, cursor: at };
}

/**
 * The frame of one chunk's stream shown at `epochMs`: decoded from the chunk's start up to the last
 * pixel record at or before that time, with the cursor as the events left it at that time.
 */
export function frameInChunk(plain: Uint8Array, epochMs: number): ShownFrame | null {
  // The decoder reuses one pixel buffer, so it must stop exactly at the frame to show:
  // the record index says which one that is without decoding past it.
  const last = indexRecords(plain).findLastIndex((r, i) => i === 0 || r.epochMs <= epochMs);
  let n = 0;
  for (const frame of decodeRecording(plain)) {
    if (n++ === last) return shown(frame, frame.epochMs, cursorAt(decodeEvents(plain), epochMs));
  }
  return null;
}

/** Every moment of one chunk after `afterEpochMs`: each frame and each cursor change, in order. */
export function* framesInChunk(plain: Uint8Array, afterEpochMs: number): Generator<ShownFrame> {
  for (const moment of decodeWithCursor(plain)) {
    if (moment.epochMs <= afterEpochMs) continue;
    yield shown(moment.frame, moment.epochMs, moment.cursor);
  }
}
