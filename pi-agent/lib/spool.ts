/**
 * A crash-safe spool of sealed chunks on local disk. A chunk is durable (written, fsynced, renamed,
 * directory fsynced) before upload, and deleted only after the server acknowledged its digest.
 *
 *   DIR/session.json          { version, sessionId, nextIndex }   (nextIndex advances after each chunk)
 *   DIR/chunks/<index>.bin    ciphertext
 *   DIR/chunks/<index>.terms  the chunk's search terms (ChunkTerms), if any; written before .json,
 *                             sent after the chunk is acknowledged, then deleted
 *   DIR/chunks/<index>.json   ChunkMeta; written after .bin, so it marks the chunk complete
 *
 * After a kill -9: leftover temp files and .bin files without .json are removed (their index was
 * never committed), and recording continues at max(nextIndex, last spooled + 1). A .terms file
 * without .json is the terms of an acknowledged chunk still to send when its index is below
 * nextIndex, else the leftover of a chunk never committed (removed).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { SealedChunk } from "./seal.ts";
import { ChunkTerms } from "./terms.ts";

export const chunkMetaSchema = z.object({
  sessionId: z.string().min(1),
  index: z.number().int().nonnegative(),
  nonce: z.string().regex(/^[0-9a-f]{48}$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().positive(),
  plainSize: z.number().int().nonnegative(),
  compressedSize: z.number().int().nonnegative(),
  captureStart: z.number().int().nonnegative(),
  captureEnd: z.number().int().nonnegative(),
});
export type ChunkMeta = z.infer<typeof chunkMetaSchema>;

const sessionStateSchema = z.object({
  version: z.literal(1),
  sessionId: z.string().min(1),
  nextIndex: z.number().int().nonnegative(),
});
export type SessionState = z.infer<typeof sessionStateSchema>;

/** Another live process (recording or uploading) owns this spool. */
export class SpoolBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpoolBusyError";
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One writer a spool: a pid lock file, taken over when its owner died (e.g. kill -9). */
function takeLock(dir: string): void {
  const path = join(dir, "lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx", mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(readFileSync(path, "utf8"));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
        throw new SpoolBusyError(`spool ${dir} is in use by process ${owner}; stop it first`);
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new SpoolBusyError(`could not lock spool ${dir}`);
}

export class SpoolFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpoolFullError";
  }
}

const name = (index: number) => String(index).padStart(10, "0");
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, "w", 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class Spool {
  readonly dir: string;
  readonly chunksDir: string;
  readonly quotaBytes: number;
  private state: SessionState;
  private listeners = new Set<() => void>();

  private constructor(dir: string, state: SessionState, quotaBytes: number) {
    this.dir = dir;
    this.chunksDir = join(dir, "chunks");
    this.state = state;
    this.quotaBytes = quotaBytes;
  }

  /**
   * Opens (and repairs after a crash) or creates the spool for `sessionId`, locking it for this
   * process until close(). Throws SpoolBusyError if a live process holds it.
   */
  static async open(dir: string, options: { sessionId?: string; quotaBytes: number; firstIndex?: number }): Promise<Spool> {
    if (!(options.quotaBytes > 0)) throw new RangeError("the spool quota must be a positive number of bytes");
    mkdirSync(join(dir, "chunks"), { recursive: true, mode: 0o700 });
    takeLock(dir);
    try {
      return await Spool.openLocked(dir, options);
    } catch (err) {
      rmSync(join(dir, "lock"), { force: true });
      throw err;
    }
  }

  /** Reads a spool without locking or repairing it (safe while another process records into it). */
  static async inspect(dir: string): Promise<{ state: SessionState; pending: ChunkMeta[]; pendingTerms: number[]; usedBytes: number }> {
    const state = sessionStateSchema.parse(JSON.parse(await readFile(join(dir, "session.json"), "utf8")));
    const view = new Spool(dir, state, Number.MAX_SAFE_INTEGER);
    return { state, pending: await view.pending(), pendingTerms: await view.pendingTerms(), usedBytes: await view.usedBytes() };
  }

  private static async openLocked(dir: string, options: { sessionId?: string; quotaBytes: number; firstIndex?: number }): Promise<Spool> {
    const statePath = join(dir, "session.json");
    let state: SessionState;
    try {
      state = sessionStateSchema.parse(JSON.parse(await readFile(statePath, "utf8")));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${statePath} is unreadable: ${(err as Error).message}`);
      const sessionId = options.sessionId ?? crypto.randomUUID();
      if (!SESSION_ID.test(sessionId)) throw new RangeError(`session id "${sessionId}" must be 1-128 of A-Z a-z 0-9 . _ : -`);
      state = { version: 1, sessionId, nextIndex: 0 };
    }
    if (options.sessionId && options.sessionId !== state.sessionId) {
      throw new Error(`${dir} holds session ${state.sessionId}, not ${options.sessionId}: use another directory`);
    }
    // A session handed over from another node continues at that node's count (never below what is spooled here).
    if (options.firstIndex !== undefined) state = { ...state, nextIndex: Math.max(state.nextIndex, options.firstIndex) };
    const spool = new Spool(dir, state, options.quotaBytes);
    await spool.repair();
    await writeDurably(statePath, JSON.stringify(spool.state));
    syncDir(dir);
    return spool;
  }

  get sessionId(): string {
    return this.state.sessionId;
  }
  get nextIndex(): number {
    return this.state.nextIndex;
  }

  private async repair(): Promise<void> {
    const files = await readdir(this.chunksDir);
    const metas = new Set(files.filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)));
    for (const file of files) {
      const stem = file.replace(/\.(bin|json|terms)(\.tmp)?$/, "");
      const uncommittedTerms = file.endsWith(".terms") && !metas.has(stem) && Number(stem) >= this.state.nextIndex;
      if (file.endsWith(".tmp") || (file.endsWith(".bin") && !metas.has(stem)) || uncommittedTerms) await rm(join(this.chunksDir, file));
    }
    for (const meta of await this.pending()) this.state.nextIndex = Math.max(this.state.nextIndex, meta.index + 1);
  }

  /** Spooled chunks not yet acknowledged, by index. */
  async pending(): Promise<ChunkMeta[]> {
    const files = (await readdir(this.chunksDir)).filter((f) => f.endsWith(".json")).sort();
    const metas: ChunkMeta[] = [];
    for (const file of files) {
      try {
        metas.push(chunkMetaSchema.parse(JSON.parse(await readFile(join(this.chunksDir, file), "utf8"))));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // acknowledged meanwhile
        throw new Error(`spooled chunk ${file} is corrupt: ${(err as Error).message}`);
      }
    }
    return metas;
  }

  /** Bytes of chunk files on disk. */
  async usedBytes(): Promise<number> {
    let total = 0;
    for (const file of await readdir(this.chunksDir)) {
      try {
        total += (await stat(join(this.chunksDir, file))).size;
      } catch {
        // deleted by an acknowledgement while we counted
      }
    }
    return total;
  }

  /** Reserves the next chunk index (committed to disk only when the chunk is). */
  takeIndex(): number {
    return this.state.nextIndex++;
  }

  /** Writes a chunk as sealChunk made it, for this spool's session, captured between `capture.start` and `capture.end` (epoch ms). */
  writeSealed(index: number, sealed: SealedChunk, capture: { start: number; end: number }, terms: ChunkTerms | null = null): Promise<void> {
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
    const meta: ChunkMeta = {
      sessionId: this.sessionId,
      index,
      nonce: hex(sealed.nonce),
      sha256: hex(sealed.sha256),
      size: sealed.ciphertext.length,
      plainSize: sealed.plainSize,
      compressedSize: sealed.compressedSize,
      captureStart: capture.start,
      captureEnd: capture.end,
    };
    return this.write(meta, sealed.ciphertext, terms);
  }

  /** Writes a sealed chunk durably. Throws SpoolFullError when it would exceed the quota. */
  async write(meta: ChunkMeta, ciphertext: Uint8Array, terms: ChunkTerms | null = null): Promise<void> {
    chunkMetaSchema.parse(meta);
    const used = await this.usedBytes();
    if (used + ciphertext.length > this.quotaBytes) {
      throw new SpoolFullError(
        `spool ${this.dir} is full: ${used} bytes waiting for upload + ${ciphertext.length} for chunk ${meta.index} ` +
          `exceed the quota of ${this.quotaBytes} bytes (is the server reachable? raise --spool-quota or free disk)`,
      );
    }
    const base = join(this.chunksDir, name(meta.index));
    await writeDurably(`${base}.bin`, ciphertext);
    if (terms) await writeDurably(`${base}.terms`, JSON.stringify(ChunkTerms.parse(terms)));
    await writeDurably(`${base}.json`, JSON.stringify(meta));
    syncDir(this.chunksDir);
    await writeDurably(
      join(this.dir, "session.json"),
      JSON.stringify({ ...this.state, nextIndex: Math.max(this.state.nextIndex, meta.index + 1) }),
    );
    for (const listener of this.listeners) listener();
  }

  /** Releases the lock. */
  close(): void {
    rmSync(join(this.dir, "lock"), { force: true });
  }

  binPath(index: number): string {
    return join(this.chunksDir, `${name(index)}.bin`);
  }

  /** Forgets an acknowledged chunk: the .json (the commit mark) goes first, so a crash leaves no half chunk. */
  async acknowledge(index: number): Promise<void> {
    const base = join(this.chunksDir, name(index));
    await rm(`${base}.json`, { force: true });
    await rm(`${base}.bin`, { force: true });
  }

  /**
   * Chunks acknowledged whose search terms are still to send, by index: a .terms without its .json
   * and .bin (a chunk being written has its .bin and .terms before its .json).
   */
  async pendingTerms(): Promise<number[]> {
    const files = new Set(await readdir(this.chunksDir));
    return [...files]
      .filter((f) => f.endsWith(".terms") && !files.has(`${f.slice(0, -6)}.json`) && !files.has(`${f.slice(0, -6)}.bin`))
      .map((f) => Number(f.slice(0, -6)))
      .sort((a, b) => a - b);
  }

  /** A chunk's spooled search terms; null when it has none (or they were sent). Throws when the file is corrupt. */
  async readTerms(index: number): Promise<ChunkTerms | null> {
    let text: string;
    try {
      text = await readFile(join(this.chunksDir, `${name(index)}.terms`), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    return ChunkTerms.parse(JSON.parse(text));
  }

  /** Forgets a chunk's terms (sent, or refused by the server's policy). */
  async dropTerms(index: number): Promise<void> {
    await rm(join(this.chunksDir, `${name(index)}.terms`), { force: true });
  }

  /** Calls `listener` after every chunk written; returns an unsubscribe function. */
  onChunk(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
