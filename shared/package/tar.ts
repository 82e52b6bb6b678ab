/**
 * POSIX ustar archives, the container of a recording package (docs/package.md): a 512-byte header
 * per entry (name, octal size, checksum), the entry's bytes padded to 512, two zero blocks at the
 * end. Written as a sequence of byte pieces, so a package streams from the chunk store without
 * being held whole, and read by offset from any random-access source (a file, a browser File).
 * Pure code: no Node built-ins, no runtime globals.
 */
export const BLOCK = 512;

export type TarEntry =
  | { name: string; kind: "file"; bytes: Uint8Array }
  /** A file whose bytes arrive as pieces; exactly `size` bytes must come, or writing fails. */
  | { name: string; kind: "stream"; size: number; pieces: () => AsyncIterable<Uint8Array> }
  | { name: string; kind: "dir" };

const encoder = new TextEncoder();

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new RangeError(`tar field too long: ${value}`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, "0");
  if (digits.length > length - 1) throw new RangeError(`tar number too large: ${value}`);
  writeString(block, offset, length, `${digits}\0`);
}

/** The 512-byte ustar header of an entry. */
export function tarHeader(name: string, size: number, type: "0" | "5", mtimeSeconds: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, type === "5" ? 0o755 : 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtimeSeconds);
  block.fill(0x20, 148, 156); // checksum counted as spaces
  block[156] = type.charCodeAt(0);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 265, 32, "lucid");
  writeString(block, 297, 32, "lucid");
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

const padding = (size: number) => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);

/** The archive as byte pieces, in entry order; a streamed entry of the wrong length throws. */
export async function* tarPieces(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, mtimeSeconds: number): AsyncGenerator<Uint8Array> {
  for await (const entry of entries) {
    if (entry.kind === "dir") {
      yield tarHeader(entry.name.endsWith("/") ? entry.name : `${entry.name}/`, 0, "5", mtimeSeconds);
      continue;
    }
    const size = entry.kind === "file" ? entry.bytes.length : entry.size;
    yield tarHeader(entry.name, size, "0", mtimeSeconds);
    if (entry.kind === "file") {
      if (size) yield entry.bytes;
    } else {
      let seen = 0;
      for await (const piece of entry.pieces()) {
        seen += piece.length;
        if (seen > size) throw new Error(`${entry.name}: more than the announced ${size} bytes`);
        yield piece;
      }
      if (seen !== size) throw new Error(`${entry.name}: ${seen} bytes, announced ${size}`);
    }
    if (size % BLOCK) yield padding(size);
  }
  yield new Uint8Array(BLOCK * 2);
}

/** Random access to a package's bytes: a file on disk, a browser File, or bytes in memory. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

export interface TarMember {
  name: string;
  type: "file" | "dir";
  /** Offset of the member's bytes in the archive. */
  offset: number;
  size: number;
}

export class TarError extends Error {
  override name = "TarError";
}

const decoder = new TextDecoder();

function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

function readOctal(block: Uint8Array, offset: number, length: number, what: string): number {
  const text = readString(block, offset, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new TarError(`${what} is not an octal number`);
  return parseInt(text, 8);
}

/** Lists an archive's members by reading only their headers (their bytes are read later, by offset). */
export async function listTar(source: ByteSource): Promise<TarMember[]> {
  const members: TarMember[] = [];
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > source.size) throw new TarError(`the archive ends inside a header at byte ${offset}`);
    const block = await source.read(offset, BLOCK);
    if (block.every((b) => b === 0)) return members;
    const stored = readOctal(block, 148, 8, `the checksum of the header at byte ${offset}`);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== stored) throw new TarError(`the header at byte ${offset} fails its checksum`);
    if (readString(block, 257, 6) !== "ustar") throw new TarError(`the header at byte ${offset} is not ustar`);
    const prefix = readString(block, 345, 155);
    const name = (prefix ? `${prefix}/` : "") + readString(block, 0, 100);
    const size = readOctal(block, 124, 12, `the size of ${name}`);
    const flag = String.fromCharCode(block[156]!);
    if (flag !== "0" && flag !== "\0" && flag !== "5") throw new TarError(`${name} is neither a file nor a directory`);
    const start = offset + BLOCK;
    if (start + size > source.size) throw new TarError(`${name} runs past the end of the archive`);
    members.push({ name, type: flag === "5" ? "dir" : "file", offset: start, size });
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
}
