import {
  BYTES_PER_PIXEL,
  DEFAULT_TILE_SIZE,
  MAX_DIMENSION,
  RECORDING_MAGIC,
  RECORDING_VERSION,
  RECORD_HEADER_BYTES,
  RecordType,
  STREAM_HEADER_BYTES,
  TILE_HEADER_BYTES,
  TileEncoding,
  tileGrid,
  tileRect,
} from "./format.ts";

/** A frame of packed 24-bit pixels (B, G, R per pixel, row-major). */
export interface Frame {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export function checkFrame(frame: Frame): void {
  const { width, height, pixels } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`frame size ${width}x${height} is not a positive integer size`);
  }
  if (width > MAX_DIMENSION || height > MAX_DIMENSION) throw new RangeError(`frame size ${width}x${height} exceeds 65535`);
  if (pixels.length !== width * height * BYTES_PER_PIXEL) {
    throw new RangeError(`frame of ${width}x${height} needs ${width * height * BYTES_PER_PIXEL} bytes, got ${pixels.length}`);
  }
}

/** The 16-byte header that opens every stream (and so every chunk). */
export function encodeStreamHeader(tileSize: number, startEpochMs: number): Uint8Array {
  if (!Number.isInteger(tileSize) || tileSize < 8 || tileSize > 255) throw new RangeError("tileSize must be 8..255");
  if (!Number.isSafeInteger(startEpochMs) || startEpochMs < 0) throw new RangeError("startEpochMs must be a non-negative integer");
  const out = new Uint8Array(STREAM_HEADER_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = RECORDING_MAGIC.charCodeAt(i);
  out[4] = RECORDING_VERSION;
  out[5] = tileSize;
  view.setFloat64(8, startEpochMs, true);
  return out;
}

/** The 9-byte header of a record whose body is `length` bytes (for writers that keep the body apart). */
export function encodeRecordHeader(type: number, t: number, length: number): Uint8Array {
  if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) throw new RangeError("record time must be 0..2^32-1 ms");
  const out = new Uint8Array(RECORD_HEADER_BYTES);
  const view = new DataView(out.buffer);
  out[0] = type;
  view.setUint32(1, t, true);
  view.setUint32(5, length, true);
  return out;
}

/** Wraps a record body (as produced here or by the native differ) with its 9-byte record header. */
export function encodeRecord(type: number, t: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + body.length);
  out.set(encodeRecordHeader(type, t, body.length), 0);
  out.set(body, RECORD_HEADER_BYTES);
  return out;
}

export function keyframeBody(frame: Frame): Uint8Array {
  checkFrame(frame);
  const body = new Uint8Array(4 + frame.pixels.length);
  const view = new DataView(body.buffer);
  view.setUint16(0, frame.width, true);
  view.setUint16(2, frame.height, true);
  body.set(frame.pixels, 4);
  return body;
}

function tileEqual(a: Uint8Array, b: Uint8Array, width: number, r: ReturnType<typeof tileRect>): boolean {
  const rowBytes = r.w * BYTES_PER_PIXEL;
  for (let y = r.y; y < r.y + r.h; y++) {
    const start = (y * width + r.x) * BYTES_PER_PIXEL;
    for (let i = start; i < start + rowBytes; i++) if (a[i] !== b[i]) return false;
  }
  return true;
}

function solidColour(pixels: Uint8Array, width: number, r: ReturnType<typeof tileRect>): Uint8Array | null {
  const first = (r.y * width + r.x) * BYTES_PER_PIXEL;
  const b = pixels[first],
    g = pixels[first + 1],
    red = pixels[first + 2];
  for (let y = r.y; y < r.y + r.h; y++) {
    const start = (y * width + r.x) * BYTES_PER_PIXEL;
    for (let i = start; i < start + r.w * BYTES_PER_PIXEL; i += 3) {
      if (pixels[i] !== b || pixels[i + 1] !== g || pixels[i + 2] !== red) return null;
    }
  }
  return pixels.subarray(first, first + 3);
}

/**
 * The delta body between two same-sized frames, or null when nothing changed. Changed tiles are
 * stored solid when one colour fills them, else XOR against the previous frame (mostly zeros,
 * which zstd shrinks far better than raw pixels).
 */
export function deltaBody(previous: Frame, current: Frame, tileSize: number): Uint8Array | null {
  checkFrame(previous);
  checkFrame(current);
  if (previous.width !== current.width || previous.height !== current.height) {
    throw new RangeError("a resolution change needs a keyframe, not a delta");
  }
  const { width, height } = current;
  const { cols, rows } = tileGrid(width, height, tileSize);
  const parts: Uint8Array[] = [];
  let size = 4;
  for (let ty = 0; ty < rows; ty++) {
    for (let tx = 0; tx < cols; tx++) {
      const r = tileRect(width, height, tileSize, tx, ty);
      if (tileEqual(previous.pixels, current.pixels, width, r)) continue;
      const solid = solidColour(current.pixels, width, r);
      const payloadBytes = solid ? 3 : r.w * r.h * BYTES_PER_PIXEL;
      const tile = new Uint8Array(TILE_HEADER_BYTES + payloadBytes);
      const view = new DataView(tile.buffer);
      view.setUint16(0, tx, true);
      view.setUint16(2, ty, true);
      tile[4] = solid ? TileEncoding.solid : TileEncoding.xor;
      if (solid) tile.set(solid, TILE_HEADER_BYTES);
      else {
        let o = TILE_HEADER_BYTES;
        for (let y = r.y; y < r.y + r.h; y++) {
          const start = (y * width + r.x) * BYTES_PER_PIXEL;
          for (let i = start; i < start + r.w * BYTES_PER_PIXEL; i++) tile[o++] = current.pixels[i]! ^ previous.pixels[i]!;
        }
      }
      parts.push(tile);
      size += tile.length;
    }
  }
  if (parts.length === 0) return null;
  const body = new Uint8Array(size);
  new DataView(body.buffer).setUint32(0, parts.length, true);
  let o = 4;
  for (const part of parts) {
    body.set(part, o);
    o += part.length;
  }
  return body;
}

/**
 * Encodes a sequence of frames into one stream: a keyframe first (and whenever the size
 * changes), then deltas. Pure TypeScript; the agent's native differ produces the same bodies.
 */
export class RecordingEncoder {
  readonly tileSize: number;
  readonly startEpochMs: number;
  private previous: Frame | null = null;
  private readonly parts: Uint8Array[] = [];

  constructor(options: { startEpochMs: number; tileSize?: number }) {
    this.tileSize = options.tileSize ?? DEFAULT_TILE_SIZE;
    this.startEpochMs = options.startEpochMs;
    this.parts.push(encodeStreamHeader(this.tileSize, this.startEpochMs));
  }

  /** Adds a frame captured at `epochMs`; returns the record written, or null if nothing changed. */
  add(frame: Frame, epochMs: number): Uint8Array | null {
    const t = epochMs - this.startEpochMs;
    const prev = this.previous;
    let record: Uint8Array | null;
    if (!prev || prev.width !== frame.width || prev.height !== frame.height) {
      record = encodeRecord(RecordType.keyframe, t, keyframeBody(frame));
    } else {
      const body = deltaBody(prev, frame, this.tileSize);
      record = body && encodeRecord(RecordType.delta, t, body);
    }
    this.previous = { width: frame.width, height: frame.height, pixels: frame.pixels.slice() };
    if (record) this.parts.push(record);
    return record;
  }

  /** Adds an already encoded event record (see events.ts: encodeEventRecord) at `epochMs`. */
  addEventRecord(record: Uint8Array): void {
    this.parts.push(record);
  }

  /** The whole stream so far. */
  bytes(): Uint8Array {
    const total = this.parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
