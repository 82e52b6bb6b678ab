/**
 * A small pool of worker threads that seal chunks (zstd + XChaCha20-Poly1305 + SHA-256), so
 * capture never waits on compression. Chunks are independent, so several seal at once.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { SealInput, SealedChunk } from "./seal.ts";

interface Job {
  id: number;
  input: SealInput;
  resolve: (sealed: SealedChunk) => void;
  reject: (err: Error) => void;
}

export class SealPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<Worker, Job>();
  private nextId = 0;
  private closed = false;

  constructor(size = Math.min(2, availableParallelism())) {
    for (let i = 0; i < Math.max(1, size); i++) {
      const worker = new Worker(new URL("./seal-worker.ts", import.meta.url));
      worker.on("message", (msg: { id: number; sealed?: SealedChunk; error?: string }) => this.done(worker, msg));
      worker.on("error", (err) => this.failed(worker, err));
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  /** Seals a chunk on a worker. `input.plain`'s buffer is transferred: do not use it afterwards. */
  seal(input: SealInput): Promise<SealedChunk> {
    if (this.closed) return Promise.reject(new Error("the seal pool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, input, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(worker, job);
      const plain = job.input.plain;
      const transfer = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength ? [plain.buffer as ArrayBuffer] : [];
      worker.postMessage({ id: job.id, input: job.input }, transfer);
    }
  }

  private done(worker: Worker, msg: { id: number; sealed?: SealedChunk; error?: string }): void {
    const job = this.running.get(worker);
    this.running.delete(worker);
    this.idle.push(worker);
    if (job) {
      if (msg.sealed) job.resolve(msg.sealed);
      else job.reject(new Error(`sealing chunk ${job.input.index} failed: ${msg.error}`));
    }
    this.dispatch();
  }

  private failed(worker: Worker, err: Error): void {
    const job = this.running.get(worker);
    this.running.delete(worker);
    job?.reject(new Error(`seal worker crashed: ${err.message}`));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error("the seal pool closed"));
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
