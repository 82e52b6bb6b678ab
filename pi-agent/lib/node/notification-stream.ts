/**
 * The agent's subscription to GET /api/v1/notifications/live (functions/admin/notifications.ts),
 * authenticated with the node credential. It holds one WebSocket, pings every `keepAliveMs` (a
 * connection without any frame for two periods is dead even if TCP has not noticed), and
 * reconnects with capped exponential back-off and jitter.
 *
 * Exactly once: the stream's notification ids increase and are never reused. The subscriber keeps
 * a cursor (the last id handled, persisted by the caller) and reconnects with `?after=<cursor>`:
 * the server replays everything after it right behind the `hello`. Anything at or below the cursor
 * is a duplicate and dropped. A first connection (no cursor) takes the server's newest id as its
 * starting point and hands the `recent` list over as history, not as news. A cursor ahead of the
 * server's newest id means the server's history was reset: the cursor follows the server.
 *
 * Every frame is validated with the schema the server uses (shared/admin.ts); one that fails is
 * reported and ignored.
 */
import {
  NOTIFICATIONS_LIVE_PATH,
  notificationStreamSchema,
  type BroadcastMessage,
  type EmergencySnapshot,
  type NotificationStreamMessage,
} from "../../../shared/admin.ts";
import { backoffDelay } from "../backoff.ts";
import { sleep } from "../sleep.ts";
import type { NodeState } from "./state.ts";

export type StreamEvent =
  | { kind: "connected"; resumedAfter: number | null; lastId: number }
  | { kind: "closed"; code: number; reason: string; retryInMs: number }
  | { kind: "duplicate"; id: number }
  | { kind: "cursor-reset"; from: number; to: number }
  | { kind: "invalid"; detail: string };

export interface StreamHandlers {
  /** After every hello: the whole emergency state (it may have changed while disconnected). */
  emergencyState(snapshot: EmergencySnapshot): void | Promise<void>;
  /** One emergency control changed. */
  emergencyChange(message: Extract<NotificationStreamMessage, { type: "emergency" }>): void | Promise<void>;
  /** A new broadcast, exactly once, in id order. Persist the cursor (`message.id`) with what it did. */
  notification(message: BroadcastMessage): void | Promise<void>;
  retraction(message: BroadcastMessage): void | Promise<void>;
  /** After a resumed hello: ids retracted at or before the cursor (their retraction may have been missed). */
  retractedWhileAway(ids: number[]): void | Promise<void>;
  /** Broadcasts sent before this agent first listened (first connection only). */
  history(messages: BroadcastMessage[], cursor: number): void | Promise<void>;
  event?(event: StreamEvent): void;
}

export interface NotificationStreamOptions {
  state: Pick<NodeState, "server" | "credential">;
  cursor: number | null;
  handlers: StreamHandlers;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  keepAliveMs?: number;
}

/** Parses one text frame; never throws. */
export function parseStreamFrame(text: string): { ok: true; message: NotificationStreamMessage } | { ok: false; detail: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, detail: "a frame that is not JSON" };
  }
  const parsed = notificationStreamSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, detail: `${issue?.path.join(".") || "frame"}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, message: parsed.data };
}

export function streamUrl(server: string, cursor: number | null): string {
  const url = new URL(NOTIFICATIONS_LIVE_PATH, server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (cursor !== null) url.searchParams.set("after", String(cursor));
  return url.href;
}

export class NotificationStream {
  private cursorValue: number | null;
  private readonly o: NotificationStreamOptions;
  connections = 0;

  constructor(options: NotificationStreamOptions) {
    this.o = options;
    this.cursorValue = options.cursor;
  }

  get cursor(): number | null {
    return this.cursorValue;
  }

  /** Listens and reconnects until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const { code, reason, greeted } = await this.listenOnce(signal);
      if (signal.aborted) return;
      if (greeted) failures = 0;
      const retryInMs = backoffDelay(failures++, { minMs: this.o.minBackoffMs ?? 1000, maxMs: this.o.maxBackoffMs ?? 60_000 });
      this.o.handlers.event?.({ kind: "closed", code, reason, retryInMs });
      await sleep(retryInMs, signal);
    }
  }

  /** One connection, until it closes; frames are handled one at a time, in order. */
  private listenOnce(signal: AbortSignal): Promise<{ code: number; reason: string; greeted: boolean }> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ code: 1000, reason: "agent stopping", greeted: false });
      const { server, credential } = this.o.state;
      const socket = new WebSocket(streamUrl(server, this.cursorValue), { headers: { [credential.header]: credential.token } } as never);
      const keepAliveMs = this.o.keepAliveMs ?? 30_000;
      let greeted = false;
      let lastFrameAt = Date.now();
      let queue = Promise.resolve();
      let finished = false;
      const finish = (code: number, reason: string) => {
        if (finished) return;
        finished = true;
        clearInterval(pinger);
        signal.removeEventListener("abort", onAbort);
        if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)
          socket.close(code === 4001 ? 4001 : 1000, reason.slice(0, 120));
        // Let frames already received finish before reconnecting with the cursor they moved.
        void queue.then(() => resolve({ code, reason, greeted }));
      };
      const pinger = setInterval(() => {
        if (Date.now() - lastFrameAt > 2 * keepAliveMs + 1000) return finish(4001, "missed pong");
        if (socket.readyState === WebSocket.OPEN) socket.send('{"type":"ping"}');
      }, keepAliveMs);
      const onAbort = () => finish(1000, "agent stopping");
      signal.addEventListener("abort", onAbort, { once: true });
      socket.addEventListener("message", (event) => {
        lastFrameAt = Date.now();
        const text = typeof event.data === "string" ? event.data : "";
        queue = queue
          .then(() => this.onFrame(text, () => (greeted = true)))
          .catch((error: unknown) => {
            this.o.handlers.event?.({ kind: "invalid", detail: `handling a frame failed: ${(error as Error).message}` });
          });
      });
      socket.addEventListener("error", () => {
        // A refused upgrade (401, 503 …) fires only `error` in Node's WebSocket, never `close`: end the attempt here.
        if (socket.readyState !== WebSocket.OPEN) finish(1006, "the upgrade failed or the server is unreachable");
      });
      socket.addEventListener("close", (event) => finish(event.code, event.reason));
    });
  }

  private async onFrame(text: string, greeted: () => void): Promise<void> {
    const frame = parseStreamFrame(text);
    if (!frame.ok) return this.o.handlers.event?.({ kind: "invalid", detail: frame.detail });
    const m = frame.message;
    const h = this.o.handlers;
    switch (m.type) {
      case "pong":
        return;
      case "hello": {
        greeted();
        this.connections++;
        if (this.cursorValue !== null && this.cursorValue > m.lastId) {
          h.event?.({ kind: "cursor-reset", from: this.cursorValue, to: m.lastId });
          this.cursorValue = m.lastId;
        }
        h.event?.({ kind: "connected", resumedAfter: m.resumedAfter, lastId: m.lastId });
        await h.emergencyState(m.emergency);
        if (m.retracted.length) await h.retractedWhileAway(m.retracted);
        if (this.cursorValue === null) {
          this.cursorValue = m.lastId;
          await h.history(m.recent, m.lastId);
        }
        return;
      }
      case "notification":
        if (this.cursorValue !== null && m.id <= this.cursorValue) return h.event?.({ kind: "duplicate", id: m.id });
        this.cursorValue = m.id;
        return h.notification(m);
      case "retraction":
        return h.retraction(m);
      case "emergency":
        return h.emergencyChange(m);
    }
  }
}
