import type { ChunkStore } from "../../platform/chunk-store/index.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { BLOCK, tarHeader } from "../../shared/package/tar.ts";

/**
 * Writes a recording package (a ustar archive, shared/package/tar.ts) into one native byte stream
 * without touching the chunks' bytes in JavaScript: the small members (JSON, verify.html) are
 * gathered into a few large writes; each chunk's body is teed inside the runtime, one branch
 * pumped straight into the response and the other into crypto.DigestStream, so every chunk is
 * hashed exactly once while it passes. A chunk whose bytes no longer hash to the digest recorded
 * at upload breaks the transfer before the archive's end (no padding, no end-of-archive blocks),
 * so a complete package never holds a damaged chunk as genuine.
 */

export type MetaEntry = { name: string; kind: "file"; bytes: Uint8Array } | { name: string; kind: "dir" };

export interface PackedChunk {
  index: number;
  name: string;
  storeKey: string;
  size: number;
  sha256: string;
}

export interface PackDamage {
  index: number;
  reason: "size" | "digest" | "missing";
  expected: number | string;
  found: number | string;
}

/** Small members are gathered into writes of at least this many bytes (each write costs a round trip). */
const WRITE_BYTES = 256 * 1024;

export class PackageAborted extends Error {
  override name = "PackageAborted";
}

/**
 * The archive as a stream, and a promise that settles once it is written (or broken). `onDamage`
 * is called after the stream has been errored, once, for the first damaged chunk.
 */
export function packageStream(
  store: ChunkStore,
  meta: AsyncIterable<MetaEntry>,
  chunks: readonly PackedChunk[],
  mtimeSeconds: number,
  onDamage: (damage: PackDamage) => Promise<void>,
): { body: ReadableStream<Uint8Array>; done: Promise<void> } {
  const { readable, writable } = new IdentityTransformStream();
  const done = writeArchive(writable, store, meta, chunks, mtimeSeconds, onDamage);
  return { body: readable, done };
}

async function writeArchive(
  writable: WritableStream<Uint8Array>,
  store: ChunkStore,
  meta: AsyncIterable<MetaEntry>,
  chunks: readonly PackedChunk[],
  mtime: number,
  onDamage: (damage: PackDamage) => Promise<void>,
): Promise<void> {
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = writable.getWriter();
  const pending = new Gather();
  const flush = async () => {
    const bytes = pending.take();
    if (bytes) await writer!.write(bytes);
  };
  // Each chunk's store request is sent one step ahead (the first while the small members go out),
  // so its first bytes are on their way when the previous chunk ends.
  const open = (i: number) => (i < chunks.length ? store.get(chunks[i]!.storeKey) : Promise.resolve(null));
  let next = open(0);
  next.catch(() => {}); // awaited in turn; a failure shows there
  const fail = async (error: Error) => {
    if (writer) await writer.abort(error).catch(() => {});
    else await writable.abort(error).catch(() => {});
    await next.then((o) => o?.body.cancel()).catch(() => {});
  };
  try {
    for await (const entry of meta) {
      if (entry.kind === "dir") pending.add(tarHeader(entry.name.endsWith("/") ? entry.name : `${entry.name}/`, 0, "5", mtime));
      else {
        pending.add(tarHeader(entry.name, entry.bytes.length, "0", mtime));
        pending.add(entry.bytes);
        pending.pad(entry.bytes.length);
      }
      if (pending.size >= WRITE_BYTES) await flush();
    }
    for (const [i, chunk] of chunks.entries()) {
      pending.add(tarHeader(chunk.name, chunk.size, "0", mtime));
      await flush();
      const object = await next;
      next = open(i + 1);
      next.catch(() => {});
      let damage: PackDamage | null = null;
      if (!object) damage = { index: chunk.index, reason: "missing", expected: chunk.size, found: 0 };
      else if (object.size !== chunk.size) {
        await object.body.cancel();
        damage = { index: chunk.index, reason: "size", expected: chunk.size, found: object.size };
      } else {
        writer.releaseLock();
        writer = null;
        const sha256 = await pumpHashing(object.body, writable);
        writer = writable.getWriter();
        if (sha256 !== chunk.sha256) damage = { index: chunk.index, reason: "digest", expected: chunk.sha256, found: sha256 };
      }
      if (damage) {
        await fail(new PackageAborted(`chunk ${chunk.index} is damaged in the chunk store (${damage.reason})`));
        await onDamage(damage).catch(() => {});
        return;
      }
      pending.pad(chunk.size);
    }
    pending.add(new Uint8Array(BLOCK * 2));
    await flush();
    await writer.close();
  } catch (error) {
    await fail(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Chunk bytes are moved in blocks of this size: each block handed over costs a round trip. */
const PUMP_BYTES = 1024 * 1024;

/**
 * Passes `body` into `out` (left open) and returns the SHA-256 of what passed. A BYOB reader fills
 * whole blocks straight from the store's body (workerd's readAtLeast), and each block is written
 * once to the response and once to the native digest while the next block is read. Two blocks are
 * the only buffering, and they are reused: a write has let go of its block once it resolves (the
 * digest has hashed it, the response's reader has taken its bytes), and a fresh 1 MiB buffer per
 * block costs about as much as hashing it.
 */
async function pumpHashing(body: ReadableStream<Uint8Array>, out: WritableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  const writer = out.getWriter();
  const reader = body.getReader({ mode: "byob" });
  const spare: ArrayBuffer[] = [];
  let writing: Promise<unknown> = Promise.resolve();
  let inFlight: Uint8Array | null = null;
  try {
    for (;;) {
      const { done, value } = await reader.readAtLeast(PUMP_BYTES, new Uint8Array(spare.pop() ?? new ArrayBuffer(PUMP_BYTES)));
      await writing;
      if (inFlight) spare.push(inFlight.buffer as ArrayBuffer);
      inFlight = null;
      if (value && value.byteLength > 0) {
        inFlight = value;
        writing = Promise.all([digestWriter.write(value), writer.write(value)]);
        writing.catch(() => {}); // awaited on the next turn; this only keeps it from counting as unhandled
      }
      if (done || !value || value.byteLength < PUMP_BYTES) break;
    }
    await writing;
    await digestWriter.close();
  } catch (error) {
    await Promise.allSettled([digestWriter.abort(error), reader.cancel(error)]);
    throw error;
  } finally {
    writer.releaseLock();
  }
  return toHex(new Uint8Array(await digest.digest));
}

/** Small pieces gathered into one write. */
class Gather {
  #pieces: Uint8Array[] = [];
  size = 0;

  add(bytes: Uint8Array): void {
    if (!bytes.length) return;
    this.#pieces.push(bytes);
    this.size += bytes.length;
  }

  /** Zero bytes up to the next 512-byte boundary after a member of `size` bytes. */
  pad(size: number): void {
    const rest = (BLOCK - (size % BLOCK)) % BLOCK;
    if (rest) this.add(new Uint8Array(rest));
  }

  take(): Uint8Array | null {
    if (!this.size) return null;
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const piece of this.#pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    this.#pieces = [];
    this.size = 0;
    return out;
  }
}
