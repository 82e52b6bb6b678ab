/**
 * Uploads what recorders left in STATE/spool/<sessionId> when nothing else will: a server stopped
 * or destroyed while a lockdown held uploads, or a recorder that died. Each pass walks the spools
 * no server of this agent owns (a live server's own recorder uploads its spool), takes the spool's
 * lock (a recorder holding it is skipped) and uploads every chunk, one spool at a time. While
 * node writes are held (lockdown) nothing is sent; lifting the hold starts a pass.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Spool, SpoolBusyError } from "../spool.ts";
import { Uploader } from "../uploader.ts";

export interface SpoolDrainerOptions {
  /** STATE/spool: one directory per session. */
  spoolRoot: string;
  /** Sessions API origin and the node credential. */
  server: string;
  token: string;
  /** Sessions a server of this agent owns now: their recorders upload their own spools. */
  owned: () => ReadonlySet<string>;
  log: (line: string) => void;
  /** Back-off bounds for each chunk's retries (defaults 1 s and 60 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class SpoolDrainer {
  readonly #o: SpoolDrainerOptions;
  #held = false;
  #uploader: Uploader | null = null;
  #pass: Promise<void> | null = null;
  #again = false;
  readonly #stop = new AbortController();
  /** Chunks the server refused for good, by session: not offered again by this process (they stay spooled). */
  readonly #refused = new Map<string, Set<number>>();

  constructor(options: SpoolDrainerOptions) {
    this.#o = options;
  }

  /** Lockdown: hold every upload (an in-flight PUT finishes); lifting it starts a pass. */
  setWritesHeld(held: boolean): void {
    if (held === this.#held) return;
    this.#held = held;
    if (held) this.#uploader?.pause();
    else this.kick();
  }

  /** Starts a pass over the spools, or another right after the running one. */
  kick(): void {
    if (this.#held || this.#stop.signal.aborted) return;
    if (this.#pass) {
      this.#again = true;
      return;
    }
    this.#pass = this.#run().finally(() => (this.#pass = null));
  }

  /** Ends the running pass (what is left stays spooled for the next run). */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#pass;
  }

  /** Resolves when no pass is running (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#pass) await this.#pass;
  }

  async #run(): Promise<void> {
    do {
      this.#again = false;
      for (const sessionId of this.#candidates()) {
        if (this.#held || this.#stop.signal.aborted) return;
        await this.#drain(sessionId).catch((error: Error) => this.#o.log(`spool ${sessionId}: not drained: ${error.message}`));
      }
    } while (this.#again && !this.#held && !this.#stop.signal.aborted);
  }

  #candidates(): string[] {
    if (!existsSync(this.#o.spoolRoot)) return [];
    const owned = this.#o.owned();
    return readdirSync(this.#o.spoolRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !owned.has(e.name) && existsSync(join(this.#o.spoolRoot, e.name, "session.json")))
      .map((e) => e.name);
  }

  async #drain(sessionId: string): Promise<void> {
    const dir = join(this.#o.spoolRoot, sessionId);
    const refused = this.#refused.get(sessionId) ?? new Set<number>();
    const seen = await Spool.inspect(dir);
    if (seen.pending.every((m) => refused.has(m.index)) && seen.pendingTerms.length === 0) return;
    let spool: Spool;
    try {
      spool = await Spool.open(dir, { sessionId, quotaBytes: Number.MAX_SAFE_INTEGER });
    } catch (error) {
      if (error instanceof SpoolBusyError) return; // a recorder has it: it uploads its own chunks
      throw error;
    }
    try {
      const pending = (await spool.pending()).length;
      const terms = (await spool.pendingTerms()).length;
      if (pending === 0 && terms === 0) return;
      this.#o.log(`spool ${sessionId}: uploading ${pending} chunks${terms ? ` and the terms of ${terms} more` : ""} left behind`);
      const uploader = new Uploader(spool, {
        baseUrl: new URL(this.#o.server).origin,
        token: this.#o.token,
        concurrency: 2,
        minBackoffMs: this.#o.minBackoffMs ?? 1000,
        maxBackoffMs: this.#o.maxBackoffMs ?? 60_000,
        onEvent: (e) => {
          if (e.kind === "terms-refused") this.#o.log(`spool ${sessionId}: terms of chunk ${e.index} dropped: ${e.reason}`);
          if (e.kind === "terms-rejected")
            this.#o.log(`spool ${sessionId}: terms of chunk ${e.index} refused (HTTP ${e.status}): ${e.reason}; they stay in the spool`);
          if (e.kind !== "rejected") return;
          this.#refused.set(sessionId, refused.add(e.index));
          this.#o.log(`spool ${sessionId}: chunk ${e.index} refused (HTTP ${e.status}): ${e.reason}; it stays in the spool`);
        },
      });
      this.#uploader = uploader;
      if (this.#held) uploader.pause();
      await uploader.run({ signal: this.#stop.signal, done: () => true });
      const left = (await spool.pending()).length;
      this.#o.log(
        `spool ${sessionId}: ${left === 0 ? "every chunk uploaded" : `${left} chunks still spooled${this.#held ? " (uploads held)" : ""}`}`,
      );
    } finally {
      this.#uploader = null;
      spool.close();
    }
  }
}
