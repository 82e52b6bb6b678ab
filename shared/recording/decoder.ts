import {
  BYTES_PER_PIXEL,
  RECORDING_MAGIC,
  READABLE_RECORDING_VERSIONS,
  RECORD_HEADER_BYTES,
  RecordType,
  RecordingFormatError,
  STREAM_HEADER_BYTES,
  TILE_HEADER_BYTES,
  TileEncoding,
  tileGrid,
  tileRect,
} from "./format.ts";

export interface StreamHeader {
  version: number;
  tileSize: number;
  startEpochMs: number;
}

export interface DecodedFrame {
  type: "keyframe" | "delta";
  /** ms since the stream's start */
  t: number;
  epochMs: number;
  width: number;
  height: number;
  /** The whole frame after this record, B, G, R per pixel. Reused by the next frame: copy to keep. */
  pixels: Uint8Array;
  /** Tiles this record changed (every tile for a keyframe is not listed: `type` says so). */
  changedTiles: Array<{ tx: number; ty: number }>;
}

export function decodeStreamHeader(bytes: Uint8Array): StreamHeader {
  if (bytes.length < STREAM_HEADER_BYTES) throw new RecordingFormatError("stream is shorter than its 16-byte header", 0);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== RECORDING_MAGIC.charCodeAt(i)) throw new RecordingFormatError("not a Lucid recording (magic is not LREC)", 0);
  }
  const version = bytes[4]!;
  if (!READABLE_RECORDING_VERSIONS.includes(version)) {
    throw new RecordingFormatError(
      `recording version ${version} is not supported (this decoder reads ${READABLE_RECORDING_VERSIONS.join(", ")})`,
      4,
    );
  }
  const tileSize = bytes[5]!;
  if (tileSize < 8) throw new RecordingFormatError(`tile size ${tileSize} is below 8`, 5);
  const startEpochMs = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(8, true);
  if (!Number.isSafeInteger(startEpochMs) || startEpochMs < 0) throw new RecordingFormatError("start time is not a ms timestamp", 8);
  return { version, tileSize, startEpochMs };
}

/**
 * Decodes one stream (one chunk's plain bytes), yielding the full frame after every pixel record
 * (event records are skipped; see decodeEvents in events.ts).
 * Checks every length against the bytes it has, so a truncated or corrupt stream fails with a
 * RecordingFormatError naming the offset, never with an out-of-range read.
 */
export function* decodeRecording(bytes: Uint8Array): Generator<DecodedFrame> {
  const header = decodeStreamHeader(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = STREAM_HEADER_BYTES;
  let width = 0;
  let height = 0;
  let pixels: Uint8Array | null = null;
  let lastT = 0;
  while (offset < bytes.length) {
    if (offset + RECORD_HEADER_BYTES > bytes.length) throw new RecordingFormatError("truncated record header", offset);
    const type = bytes[offset]!;
    const t = view.getUint32(offset + 1, true);
    const bodyLength = view.getUint32(offset + 5, true);
    const bodyStart = offset + RECORD_HEADER_BYTES;
    const bodyEnd = bodyStart + bodyLength;
    if (bodyEnd > bytes.length) throw new RecordingFormatError(`record body of ${bodyLength} bytes runs past the end`, offset);
    if (t < lastT) throw new RecordingFormatError("record time goes backwards", offset + 1);
    lastT = t;
    let changedTiles: DecodedFrame["changedTiles"] = [];
    if (type === RecordType.keyframe) {
      if (bodyLength < 4) throw new RecordingFormatError("keyframe body too short", bodyStart);
      width = view.getUint16(bodyStart, true);
      height = view.getUint16(bodyStart + 2, true);
      const need = width * height * BYTES_PER_PIXEL;
      if (width === 0 || height === 0) throw new RecordingFormatError("keyframe has an empty size", bodyStart);
      if (bodyLength !== 4 + need)
        throw new RecordingFormatError(`keyframe of ${width}x${height} needs ${4 + need} body bytes, has ${bodyLength}`, bodyStart);
      if (!pixels || pixels.length !== need) pixels = new Uint8Array(need);
      pixels.set(bytes.subarray(bodyStart + 4, bodyEnd));
    } else if (type === RecordType.delta) {
      if (!pixels) throw new RecordingFormatError("delta record before any keyframe", offset);
      changedTiles = applyDelta(bytes, view, bodyStart, bodyEnd, pixels, width, height, header.tileSize);
    } else if (type === RecordType.event && header.version >= 2) {
      // Events do not change pixels: decodeEvents() reads them.
      offset = bodyEnd;
      continue;
    } else {
      throw new RecordingFormatError(`unknown record type ${type}`, offset);
    }
    yield {
      type: type === RecordType.keyframe ? "keyframe" : "delta",
      t,
      epochMs: header.startEpochMs + t,
      width,
      height,
      pixels,
      changedTiles,
    };
    offset = bodyEnd;
  }
}

function applyDelta(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  pixels: Uint8Array,
  width: number,
  height: number,
  tileSize: number,
): DecodedFrame["changedTiles"] {
  if (end - start < 4) throw new RecordingFormatError("delta body too short", start);
  const count = view.getUint32(start, true);
  const { cols, rows } = tileGrid(width, height, tileSize);
  const changed: DecodedFrame["changedTiles"] = [];
  let o = start + 4;
  for (let n = 0; n < count; n++) {
    if (o + TILE_HEADER_BYTES > end) throw new RecordingFormatError("truncated tile header", o);
    const tx = view.getUint16(o, true);
    const ty = view.getUint16(o + 2, true);
    const encoding = bytes[o + 4]!;
    if (tx >= cols || ty >= rows) throw new RecordingFormatError(`tile (${tx},${ty}) is outside the ${cols}x${rows} grid`, o);
    o += TILE_HEADER_BYTES;
    const r = tileRect(width, height, tileSize, tx, ty);
    const rowBytes = r.w * BYTES_PER_PIXEL;
    if (encoding === TileEncoding.solid) {
      if (o + 3 > end) throw new RecordingFormatError("truncated solid tile", o);
      for (let y = r.y; y < r.y + r.h; y++) {
        const rowStart = (y * width + r.x) * BYTES_PER_PIXEL;
        for (let i = rowStart; i < rowStart + rowBytes; i += 3) {
          pixels[i] = bytes[o]!;
          pixels[i + 1] = bytes[o + 1]!;
          pixels[i + 2] = bytes[o + 2]!;
        }
      }
      o += 3;
    } else if (encoding === TileEncoding.raw || encoding === TileEncoding.xor) {
      if (o + rowBytes * r.h > end) throw new RecordingFormatError("truncated tile pixels", o);
      for (let y = r.y; y < r.y + r.h; y++) {
        const rowStart = (y * width + r.x) * BYTES_PER_PIXEL;
        if (encoding === TileEncoding.raw) pixels.set(bytes.subarray(o, o + rowBytes), rowStart);
        else for (let i = 0; i < rowBytes; i++) pixels[rowStart + i]! ^= bytes[o + i]!;
        o += rowBytes;
      }
    } else {
      throw new RecordingFormatError(`unknown tile encoding ${encoding}`, o - 1);
    }
    changed.push({ tx, ty });
  }
  if (o !== end) throw new RecordingFormatError(`delta body has ${end - o} trailing bytes`, o);
  return changed;
}

/** Converts B, G, R pixels to R, G, B, A (opaque) for a canvas ImageData or a PNG. */
export function bgrToRgba(pixels: Uint8Array): Uint8Array {
  const out = new Uint8Array((pixels.length / 3) * 4);
  for (let i = 0, o = 0; i < pixels.length; i += 3, o += 4) {
    out[o] = pixels[i + 2]!;
    out[o + 1] = pixels[i + 1]!;
    out[o + 2] = pixels[i]!;
    out[o + 3] = 255;
  }
  return out;
}
