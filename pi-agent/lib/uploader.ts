/**
 * Uploads spooled chunks per shared/chunk.ts: a streaming PUT per chunk, a bounded number at a time,
 * retrying network errors, 5xx and 429 with capped exponential back-off and jitter. A chunk leaves
 * the spool only when the server's receipt names the same index and SHA-256. `pause()` holds every
 * upload (an emergency lockdown refuses node writes: retrying would only hammer the server) until
 * `resume()`; chunks stay spooled meanwhile. A chunk's search terms (pi-agent/lib/terms.ts) follow it
 * once it is acknowledged: PUT …/chunks/{index}/terms, retried like the chunk; a 409 of type
 * /problems/interaction-policy (the session's policy forbids them) drops them.
 */
import { createReadStream } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { z } from "zod";
import { CHUNK_HEADERS, formatContentDigest } from "../../shared/chunk.ts";
import { sleep } from "./sleep.ts";
import type { ChunkMeta, Spool } from "./spool.ts";
import type { ChunkTerms } from "./terms.ts";

/** The problem type of a server whose session policy forbids the terms sent. */
export const INTERACTION_POLICY_PROBLEM = "/problems/interaction-policy";

const receiptSchema = z.object({
  sessionId: z.string(),
  index: z.number().int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int(),
  receivedAt: z.string(),
});

export interface UploaderOptions {
  /** Server origin, e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  token: string;
  concurrency: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  onEvent?: (event: UploadEvent) => void;
}

export type UploadEvent =
  | { kind: "uploaded"; index: number; status: number }
  | { kind: "retry"; index: number; attempt: number; delayMs: number; reason: string }
  | { kind: "rejected"; index: number; status: number; reason: string }
  | { kind: "terms-uploaded"; index: number }
  /** The server's interaction policy forbids them: dropped from the spool. */
  | { kind: "terms-refused"; index: number; reason: string }
  /** Refused for another reason retrying cannot fix: they stay in the spool. */
  | { kind: "terms-rejected"; index: number; status: number; reason: string };

/** A server answer that retrying cannot fix (4xx other than 408/429, or a receipt that does not match). */
export class PermanentUploadError extends Error {
  readonly index: number;
  constructor(index: number, message: string) {
    super(message);
    this.name = "PermanentUploadError";
    this.index = index;
  }
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

async function readBody(res: IncomingMessage): Promise<string> {
  let text = "";
  res.setEncoding("utf8");
  for await (const piece of res) if (text.length < 65536) text += piece;
  return text;
}

export class Uploader {
  private readonly options: UploaderOptions;
  private readonly spool: Spool;
  private readonly inFlight = new Set<number>();
  /**
   * Chunks acknowledged in this run. pending() may list a chunk just before its upload finishes and
   * deletes it; without this the chunk would be picked up again and retried against a missing file.
   */
  private readonly acknowledged = new Set<number>();
  readonly rejected = new Map<number, string>();
  /** Terms uploads running, by chunk index. */
  private readonly termsJobs = new Map<number, Promise<void>>();
  private held: { released: Promise<void>; release: () => void } | null = null;

  constructor(spool: Spool, options: UploaderOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError("the server URL must be http(s)");
    if (!(options.concurrency >= 1)) throw new RangeError("upload concurrency must be at least 1");
    this.spool = spool;
    this.options = options;
  }

  /** Holds uploads (an in-flight PUT finishes; nothing new starts) until resume(). */
  pause(): void {
    if (this.held) return;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { released, release };
  }

  resume(): void {
    this.held?.release();
    this.held = null;
  }

  get paused(): boolean {
    return this.held !== null;
  }

  /** Waits while paused; false when the caller should give up (aborted, or paused with nothing more to come). */
  async mayGo(signal: AbortSignal, done: () => boolean): Promise<boolean> {
    while (this.held && !signal.aborted) {
      if (done()) return false;
      await Promise.race([this.held.released, sleep(1000, signal)]);
    }
    return !signal.aborted;
  }

  /** One PUT; resolves with the HTTP status once the receipt is checked, or throws. */
  private put(meta: ChunkMeta): Promise<{ status: number; retryable: boolean; reason?: string }> {
    const url = new URL(`/api/v1/sessions/${encodeURIComponent(meta.sessionId)}/chunks/${meta.index}`, this.options.baseUrl);
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${this.options.token}`,
          "content-type": "application/octet-stream",
          "content-length": String(meta.size),
          [CHUNK_HEADERS.digest]: formatContentDigest(hexToBytes(meta.sha256)),
          [CHUNK_HEADERS.nonce]: meta.nonce,
          [CHUNK_HEADERS.plainSize]: String(meta.plainSize),
          [CHUNK_HEADERS.compressedSize]: String(meta.compressedSize),
          [CHUNK_HEADERS.captureStart]: String(meta.captureStart),
          [CHUNK_HEADERS.captureEnd]: String(meta.captureEnd),
        },
      });
      req.on("error", reject);
      req.on("response", (res) => {
        readBody(res).then((text) => {
          const status = res.statusCode ?? 0;
          if (status === 200 || status === 201) {
            const receipt = receiptSchema.safeParse(safeJson(text));
            if (!receipt.success) return resolve({ status, retryable: true, reason: "the server's receipt is malformed" });
            if (receipt.data.index !== meta.index || receipt.data.sha256 !== meta.sha256) {
              return resolve({
                status,
                retryable: false,
                reason: `receipt names chunk ${receipt.data.index} sha256 ${receipt.data.sha256}`,
              });
            }
            return resolve({ status, retryable: false });
          }
          const retryable = status >= 500 || status === 408 || status === 429;
          resolve({ status, retryable, reason: `HTTP ${status}: ${text.slice(0, 300)}` });
        }, reject);
      });
      const file = createReadStream(this.spool.binPath(meta.index));
      file.on("error", (err) => req.destroy(err));
      file.pipe(req);
    });
  }

  /** One PUT of a chunk's terms. */
  private putTerms(sessionId: string, index: number, terms: ChunkTerms): Promise<{ status: number; text: string }> {
    const url = new URL(`/api/v1/sessions/${encodeURIComponent(sessionId)}/chunks/${index}/terms`, this.options.baseUrl);
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const body = Buffer.from(JSON.stringify(terms));
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${this.options.token}`,
          "content-type": "application/json",
          "content-length": String(body.length),
        },
      });
      req.on("error", reject);
      req.on("response", (res) => readBody(res).then((text) => resolve({ status: res.statusCode ?? 0, text }), reject));
      req.end(body);
    });
  }

  /** Sends a chunk's terms beside the chunk uploads: retrying them never holds a chunk's slot. */
  private startTerms(sessionId: string, index: number, signal: AbortSignal, done: () => boolean): void {
    if (this.termsJobs.has(index)) return;
    const job = this.uploadTerms(sessionId, index, signal, done)
      .catch((err: Error) => this.options.onEvent?.({ kind: "terms-rejected", index, status: 0, reason: `terms not sent: ${err.message}` }))
      .finally(() => this.termsJobs.delete(index));
    this.termsJobs.set(index, job);
  }

  /** Sends a chunk's spooled terms (if it has any) until the server takes or refuses them. */
  private async uploadTerms(sessionId: string, index: number, signal: AbortSignal, done: () => boolean): Promise<void> {
    let terms: ChunkTerms | null;
    try {
      terms = await this.spool.readTerms(index);
    } catch (err) {
      // Nothing can send a corrupt file: say so, and drop it.
      this.options.onEvent?.({ kind: "terms-rejected", index, status: 0, reason: `spooled terms are corrupt: ${(err as Error).message}` });
      return this.spool.dropTerms(index);
    }
    if (!terms) return;
    if (terms.titles.length === 0 && terms.words.length === 0) return this.spool.dropTerms(index);
    for (let attempt = 1; ; attempt++) {
      if (!(await this.mayGo(signal, done))) return;
      let reason: string;
      try {
        const { status, text } = await this.putTerms(sessionId, index, terms);
        if (status === 204 || status === 200) {
          await this.spool.dropTerms(index);
          return this.options.onEvent?.({ kind: "terms-uploaded", index });
        }
        const problem = safeJson(text) as { type?: unknown; detail?: unknown } | null;
        if (status === 409 && typeof problem?.type === "string" && problem.type.endsWith(INTERACTION_POLICY_PROBLEM)) {
          await this.spool.dropTerms(index);
          const detail = typeof problem.detail === "string" ? problem.detail : "the session's interaction policy forbids them";
          return this.options.onEvent?.({ kind: "terms-refused", index, reason: detail });
        }
        reason = `HTTP ${status}: ${text.slice(0, 300)}`;
        if (!(status >= 500 || status === 408 || status === 429)) {
          return this.options.onEvent?.({ kind: "terms-rejected", index, status, reason });
        }
      } catch (err) {
        reason = (err as Error).message;
      }
      if (signal.aborted) return;
      const ceiling = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** (attempt - 1));
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      this.options.onEvent?.({ kind: "retry", index, attempt, delayMs, reason: `terms: ${reason}` });
      await sleep(delayMs, signal);
      if (signal.aborted) return;
    }
  }

  /** Uploads one chunk until the server acknowledges it, or a permanent error. */
  private async uploadOne(meta: ChunkMeta, signal: AbortSignal, done: () => boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (!(await this.mayGo(signal, done))) return;
      let reason: string;
      try {
        const result = await this.put(meta);
        if (!result.reason) {
          this.acknowledged.add(meta.index);
          await this.spool.acknowledge(meta.index);
          this.options.onEvent?.({ kind: "uploaded", index: meta.index, status: result.status });
          return this.startTerms(meta.sessionId, meta.index, signal, done);
        }
        if (!result.retryable) {
          this.rejected.set(meta.index, result.reason);
          this.options.onEvent?.({ kind: "rejected", index: meta.index, status: result.status, reason: result.reason });
          throw new PermanentUploadError(meta.index, `chunk ${meta.index} rejected: ${result.reason}`);
        }
        reason = result.reason;
      } catch (err) {
        if (err instanceof PermanentUploadError) throw err;
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          // The spooled file itself is gone: no retry can bring it back.
          const why = `the spooled chunk file is missing: ${(err as Error).message}`;
          this.rejected.set(meta.index, why);
          this.options.onEvent?.({ kind: "rejected", index: meta.index, status: 0, reason: why });
          throw new PermanentUploadError(meta.index, `chunk ${meta.index} rejected: ${why}`);
        }
        reason = (err as Error).message;
      }
      if (signal.aborted) return;
      const ceiling = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** (attempt - 1));
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      this.options.onEvent?.({ kind: "retry", index: meta.index, attempt, delayMs, reason });
      await sleep(delayMs, signal);
      if (signal.aborted) return;
    }
  }

  /**
   * Uploads everything spooled, picking up new chunks as they are written, until `stop` is true
   * and the spool is empty (or `signal` aborts). Rejected chunks stay in the spool and are reported.
   */
  async run(options: { signal: AbortSignal; done: () => boolean }): Promise<void> {
    const { signal } = options;
    let wake: () => void = () => {};
    const unsubscribe = this.spool.onChunk(() => wake());
    const workers = new Set<Promise<void>>();
    try {
      // Terms of chunks acknowledged before a crash or a stop.
      for (const index of await this.spool.pendingTerms()) this.startTerms(this.spool.sessionId, index, signal, options.done);
      while (!signal.aborted) {
        // Paused with the recording over: stop here, what is left stays spooled.
        if (!(await this.mayGo(signal, options.done))) break;
        const todo = (await this.spool.pending()).filter(
          (m) => !this.inFlight.has(m.index) && !this.acknowledged.has(m.index) && !this.rejected.has(m.index),
        );
        for (const meta of todo) {
          if (this.inFlight.size >= this.options.concurrency) break;
          this.inFlight.add(meta.index);
          const job: Promise<void> = this.uploadOne(meta, signal, options.done)
            .catch(() => {}) // recorded in this.rejected and reported through onEvent
            .finally(() => {
              this.inFlight.delete(meta.index);
              workers.delete(job);
              wake();
            });
          workers.add(job);
        }
        if (workers.size === 0 && todo.length === 0 && options.done()) break;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        await Promise.race([woken, sleep(1000, signal)]);
      }
      await Promise.all(workers);
      await Promise.all(this.termsJobs.values());
    } finally {
      unsubscribe();
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
