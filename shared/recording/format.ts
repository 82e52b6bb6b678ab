/**
 * Lucid recording stream, version 2: a lossless screen recording made of keyframes and changed tiles,
 * with events (cursor, interaction) beside the pixels. Version 1 is version 2 without event
 * records; decoders read both.
 *
 * Every chunk's plain bytes are one self-contained stream (so a chunk decodes on its own and a
 * player can seek to any chunk):
 *
 *   StreamHeader  16 bytes
 *     magic        4  ASCII "LREC"
 *     version      u8 = 2 (1 in recordings made before events)
 *     tileSize     u8   tile edge in pixels (8..255); tiles at the right/bottom edge are clipped
 *     reserved     u16 = 0
 *     startEpochMs f64  wall-clock ms of the stream's time origin (an integer)
 *   Record*       repeated until the end of the bytes; the first record is a keyframe
 *     type         u8   1 = keyframe, 2 = delta, 3 = event (version 2 only)
 *     t            u32  ms since startEpochMs (non-decreasing)
 *     bodyLength   u32  bytes of body that follow (lets a player skip records without decoding)
 *     body
 *
 *   Keyframe body: width u16, height u16, then width*height pixels, row-major.
 *   Delta body:    tileCount u32, then tileCount tiles, each
 *     tx u16, ty u16   tile column and row
 *     encoding u8      0 = raw: the tile's pixels, row-major (clipped width × clipped height)
 *                      1 = xor: the tile's pixels XOR the same tile of the previous frame
 *                      2 = solid: one pixel that fills the whole tile
 *     payload
 *   Event body:    kind u8, then the kind's payload (see events.ts); a player that does not know
 *                  a kind skips the record by its bodyLength.
 *
 * All integers are little-endian. A pixel is 3 bytes B, G, R (the byte order of 24-bit X11
 * ZPixmap images without their padding byte): lossless for 24-bit colour. A frame that changed
 * nothing is simply not recorded; a player holds the previous frame until the next record.
 */
export const RECORDING_MAGIC = "LREC";
export const RECORDING_VERSION = 2;
/** Stream versions this decoder reads. */
export const READABLE_RECORDING_VERSIONS: readonly number[] = [1, 2];
export const STREAM_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 9;
export const TILE_HEADER_BYTES = 5;
export const BYTES_PER_PIXEL = 3;
export const DEFAULT_TILE_SIZE = 64;
export const MAX_DIMENSION = 0xffff;

export const RecordType = { keyframe: 1, delta: 2, event: 3 } as const;
export const TileEncoding = { raw: 0, xor: 1, solid: 2 } as const;

export class RecordingFormatError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = "RecordingFormatError";
    this.offset = offset;
  }
}

/** Number of tile columns and rows covering a frame. */
export function tileGrid(width: number, height: number, tileSize: number): { cols: number; rows: number } {
  return { cols: Math.ceil(width / tileSize), rows: Math.ceil(height / tileSize) };
}

/** The pixel rectangle of tile (tx, ty), clipped to the frame. */
export function tileRect(width: number, height: number, tileSize: number, tx: number, ty: number) {
  const x = tx * tileSize;
  const y = ty * tileSize;
  return { x, y, w: Math.min(tileSize, width - x), h: Math.min(tileSize, height - y) };
}
