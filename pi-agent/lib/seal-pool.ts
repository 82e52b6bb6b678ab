/**
 * A small pool of worker threads that seal chunks (zstd + XChaCha20-Poly1305 + SHA-256), so
 * capture never waits on compression. Chunks are independent, so several seal at once.
 *
 * `depth` chunks may be posted to a worker ahead (its message port queues them), so it need not idle
 * until this thread sends more. The default is 1: on the shared 2-vCPU machine, 2 ahead made no
 * difference BENCH pipeline could show (mean ratio 0.90 against 0.89 over ~20 runs each at load
 * 9–12), and it holds more 10 MB chunks in memory.
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

interface Slot {
  worker: Worker;
  /** jobs posted to this worker, oldest first: it answers them in this order */
  posted: Job[];
}

export class SealPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly depth: number;
  private nextId = 0;
  private closed = false;

  constructor(size = Math.min(2, availableParallelism()), depth = 1) {
    this.depth = Math.max(1, depth);
    for (let i = 0; i < Math.max(1, size); i++) {
      const slot: Slot = { worker: new Worker(new URL("./seal-worker.ts", import.meta.url)), posted: [] };
      slot.worker.on("message", (msg: { id: number; sealed?: SealedChunk; error?: string }) => this.done(slot, msg));
      slot.worker.on("error", (err) => this.failed(slot, err));
      this.slots.push(slot);
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
    while (this.queue.length > 0) {
      // The least loaded worker, so chunks spread over all of them before any gets a second.
      const slot = this.slots.reduce((a, b) => (b.posted.length < a.posted.length ? b : a));
      if (slot.posted.length >= this.depth) return;
      const job = this.queue.shift()!;
      slot.posted.push(job);
      const plain = job.input.plain;
      const transfer = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength ? [plain.buffer as ArrayBuffer] : [];
      slot.worker.postMessage({ id: job.id, input: job.input }, transfer);
    }
  }

  private done(slot: Slot, msg: { id: number; sealed?: SealedChunk; error?: string }): void {
    const job = slot.posted.shift();
    if (job) {
      if (msg.sealed) job.resolve(msg.sealed);
      else job.reject(new Error(`sealing chunk ${job.input.index} failed: ${msg.error}`));
    }
    this.dispatch();
  }

  private failed(slot: Slot, err: Error): void {
    for (const job of slot.posted.splice(0)) job.reject(new Error(`seal worker crashed: ${err.message}`));
    this.slots.splice(this.slots.indexOf(slot), 1);
    if (this.slots.length === 0) for (const job of this.queue.splice(0)) job.reject(new Error("every seal worker crashed"));
    else this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error("the seal pool closed"));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
