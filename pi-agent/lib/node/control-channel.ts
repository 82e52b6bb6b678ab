/**
 * The agent's end of the RDP agent channel (shared/rdp/protocol.ts): one WebSocket to the host's
 * RdpHostDO, authenticated with the node credential, every agent frame signed with the node key.
 * It answers `welcome` with `hello` (the servers still running), carries out commands once each
 * (a replayed id is acked again with the remembered outcome, never executed twice), sends events
 * and periodic resource reports, pings every `keepAliveSeconds`, and reconnects with exponential
 * back-off (1 s doubling to 60 s, ±20 % jitter) whenever the socket closes or a pong is missed.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  CHANNEL_PATH,
  PING_FRAME,
  PROTOCOL_VERSION,
  ServerFrame,
  AgentMessage,
  agentSigningBytes,
  type CommandBody,
  type CommandFrame,
  type EventBody,
  type ResourceReport,
  type UnsignedAgentMessage,
} from "../../../shared/rdp/protocol.ts";
import { backoffDelay } from "../backoff.ts";
import { CommandError } from "../xrdp/manager.ts";
import type { NodeState } from "./state.ts";

export interface ChannelHandler {
  /** `commandId`: the frame's id (for logs and records; duplicates never reach here). */
  execute(command: CommandBody, commandId: string): Promise<void>;
  list(): { serverId: string; state: "starting" | "listening" | "stopped" | "failed" }[];
  reports(): ResourceReport[];
}

export type ChannelEvent =
  | { kind: "connected"; channel: string }
  | { kind: "closed"; code: number; reason: string; retryInMs: number }
  | { kind: "command"; id: string; command: string; attempt: number; outcome: "received" | "done" | "failed" | "duplicate"; error?: string }
  | { kind: "refused"; code: string; detail: string };

export interface ControlChannelOptions {
  state: NodeState;
  handler: ChannelHandler;
  agentVersion: string;
  /** Host name or address RDP clients dial (hello.address). */
  address?: string;
  /** The RDP ports this agent serves (hello.ports; default: the host's whole pool). */
  ports?: { min: number; max: number };
  minBackoffMs?: number;
  maxBackoffMs?: number;
  onEvent?: (event: ChannelEvent) => void;
}

type Outcome = { outcome: "done" | "failed"; error?: { code: string; detail: string } };
const REMEMBERED_COMMANDS = 1000;
/** Most acks one `acks` frame carries (shared/rdp/protocol.ts AcksMessage). */
const ACKS_PER_FRAME = 1000;

export class ControlChannel {
  private socket: WebSocket | null = null;
  private channel: string | null = null;
  private hostId = "";
  private seq = 0;
  private failures = 0;
  private readonly secretKey: Uint8Array;
  /** Outcomes of the last commands by id (insertion order = age), and those still running. */
  private readonly outcomes = new Map<string, Outcome>();
  private readonly running = new Map<string, Promise<Outcome>>();
  /** Events raised while disconnected, sent after the next hello. */
  private readonly backlog: EventBody[] = [];
  /** Acks waiting for the end of the turn, and the channel they were made on. */
  private acks: { commandId: string; outcome: "done" | "failed"; error?: { code: string; detail: string } }[] = [];
  private acksChannel: string | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private lastPong = 0;
  connections = 0;

  private readonly o: ControlChannelOptions;

  constructor(options: ControlChannelOptions) {
    this.o = options;
    this.secretKey = hexToBytes(options.state.secretKey);
  }

  get url(): string {
    const url = new URL(CHANNEL_PATH(this.o.state.nodeId), this.o.state.server);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  /** Connects and keeps reconnecting until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      signal.addEventListener(
        "abort",
        () => {
          this.stopped = true;
          this.clearTimers();
          this.socket?.close(1000, "agent stopping");
          resolve();
        },
        { once: true },
      );
      if (!signal.aborted) this.connect();
      else resolve();
    });
  }

  /** Sends an event now, or after the next hello when the channel is down. */
  send(event: EventBody): void {
    if (this.channel && this.socket?.readyState === WebSocket.OPEN) this.sendSigned({ type: "event", event });
    else if (this.backlog.length < 1000) this.backlog.push(event);
  }

  private connect(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.url, { headers: { [this.o.state.credential.header]: this.o.state.credential.token } } as never);
    this.socket = socket;
    socket.addEventListener("message", (e) => this.onFrame(typeof e.data === "string" ? e.data : ""));
    socket.addEventListener("close", (e) => this.onClose(socket, e.code, e.reason));
    socket.addEventListener("error", () => {
      // On an open socket a close event follows. A refused connection or upgrade fires only `error` in
      // Node's WebSocket, never `close`: without this the channel would never try again.
      if (socket.readyState !== WebSocket.OPEN) this.onClose(socket, 1006, "the upgrade failed or the server is unreachable");
    });
  }

  private onClose(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.socket) return; // this attempt was already given up
    this.clearTimers();
    this.channel = null;
    this.socket = null;
    if (socket.readyState === WebSocket.CONNECTING) socket.close(); // fires error again: ignored above
    if (this.stopped) return;
    const retryInMs = backoffDelay(this.failures++, { minMs: this.o.minBackoffMs ?? 1000, maxMs: this.o.maxBackoffMs ?? 60_000 });
    this.o.onEvent?.({ kind: "closed", code, reason, retryInMs });
    this.timers.push(setTimeout(() => this.connect(), retryInMs));
  }

  private clearTimers(): void {
    for (const t of this.timers) (clearTimeout(t), clearInterval(t));
    this.timers = [];
  }

  private onFrame(text: string): void {
    if (text === '{"type":"pong"}') {
      this.lastPong = Date.now();
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.o.onEvent?.({ kind: "refused", code: "invalid-frame", detail: "a frame that is not JSON" });
    }
    const frame = ServerFrame.safeParse(json);
    if (!frame.success) return this.o.onEvent?.({ kind: "refused", code: "invalid-frame", detail: frame.error.issues[0]?.message ?? "" });
    const f = frame.data;
    if (f.type === "pong") this.lastPong = Date.now();
    else if (f.type === "welcome") this.onWelcome(f);
    else if (f.type === "command") void this.onCommand(f);
    else if (f.type === "commands") for (const command of f.commands) void this.onCommand(command);
    else this.o.onEvent?.({ kind: "refused", code: f.code, detail: f.detail });
  }

  private onWelcome(w: Extract<ServerFrame, { type: "welcome" }>): void {
    this.channel = w.channel;
    this.hostId = w.hostId;
    this.seq = 0;
    this.failures = 0;
    this.connections++;
    this.lastPong = Date.now();
    this.sendSigned({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      agentVersion: this.o.agentVersion,
      ...(this.o.address ? { address: this.o.address } : {}),
      ...(this.o.ports ? { ports: this.o.ports } : {}),
      servers: this.o.handler.list().slice(0, 1000),
      batches: true,
    });
    for (const event of this.backlog.splice(0)) this.sendSigned({ type: "event", event });
    const keepAliveMs = w.keepAliveSeconds * 1000;
    this.timers.push(
      setInterval(() => {
        // Two keep-alive periods without a pong: the connection is dead even if TCP has not noticed.
        if (Date.now() - this.lastPong > 2 * keepAliveMs + 1000) return this.socket?.close(4001, "missed pong");
        this.socket?.send(PING_FRAME);
      }, keepAliveMs),
      setInterval(() => {
        for (const report of this.o.handler.reports()) this.send(report);
      }, w.reportSeconds * 1000),
    );
    this.o.onEvent?.({ kind: "connected", channel: w.channel });
  }

  private async onCommand(frame: CommandFrame): Promise<void> {
    const known = this.outcomes.get(frame.id);
    if (!known && !this.running.has(frame.id)) {
      this.o.onEvent?.({ kind: "command", id: frame.id, command: frame.command.kind, attempt: frame.attempt, outcome: "received" });
    }
    if (known) {
      this.o.onEvent?.({ kind: "command", id: frame.id, command: frame.command.kind, attempt: frame.attempt, outcome: "duplicate" });
      return this.ack(frame.id, known);
    }
    let pending = this.running.get(frame.id);
    const first = !pending;
    // Delivered again while still being carried out (a retry, or a replay after reconnecting): ack when done, act once.
    if (pending)
      this.o.onEvent?.({ kind: "command", id: frame.id, command: frame.command.kind, attempt: frame.attempt, outcome: "duplicate" });
    if (!pending) {
      pending = this.o.handler.execute(frame.command, frame.id).then(
        (): Outcome => ({ outcome: "done" }),
        (error: unknown): Outcome => ({
          outcome: "failed",
          error: {
            code: error instanceof CommandError ? error.code : "agent-error",
            detail: String((error as Error).message ?? error).slice(0, 500),
          },
        }),
      );
      this.running.set(frame.id, pending);
    }
    const outcome = await pending;
    if (first) {
      this.running.delete(frame.id);
      this.outcomes.set(frame.id, outcome);
      if (this.outcomes.size > REMEMBERED_COMMANDS) this.outcomes.delete(this.outcomes.keys().next().value!);
      this.o.onEvent?.({
        kind: "command",
        id: frame.id,
        command: frame.command.kind,
        attempt: frame.attempt,
        outcome: outcome.outcome,
        error: outcome.error?.detail,
      });
    }
    this.ack(frame.id, outcome);
  }

  /**
   * Acks wait for the end of the current turn and go out together: one `ack`, or one `acks` frame
   * (up to ACKS_PER_FRAME) under one signature and one seq, so a replay burst is not signed command
   * by command. The DO applies the same channel, seq and signature checks to either.
   */
  private ack(commandId: string, o: Outcome): void {
    if (!this.channel || this.socket?.readyState !== WebSocket.OPEN) return; // the DO replays it after the next hello
    if (this.acksChannel !== this.channel) this.acks = [];
    this.acksChannel = this.channel;
    if (this.acks.push({ commandId, outcome: o.outcome, ...(o.error ? { error: o.error } : {}) }) === 1)
      setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    const acks = this.acks.splice(0);
    // Reconnected meanwhile (a new channel): the DO replays these commands after the new hello.
    if (!this.channel || this.channel !== this.acksChannel || this.socket?.readyState !== WebSocket.OPEN) return;
    for (let start = 0; start < acks.length; start += ACKS_PER_FRAME) {
      const group = acks.slice(start, start + ACKS_PER_FRAME);
      if (group.length === 1) this.sendSigned({ type: "ack", ...group[0]! });
      else this.sendSigned({ type: "acks", acks: group });
    }
  }

  private sendSigned(body: { type: "hello" | "ack" | "acks" | "event"; [k: string]: unknown }): void {
    const unsigned = { ...body, channel: this.channel!, seq: ++this.seq, sentAt: Date.now() } as UnsignedAgentMessage;
    const message = AgentMessage.safeParse({
      ...unsigned,
      sig: bytesToHex(ed25519.sign(agentSigningBytes(this.hostId, unsigned), this.secretKey)),
    });
    // Never send what the DO would refuse as a forgery (and close the channel for): drop it and say why.
    if (!message.success) {
      this.seq--;
      return this.o.onEvent?.({
        kind: "refused",
        code: "invalid-outgoing",
        detail: `${body.type}: ${message.error.issues[0]?.message ?? ""}`,
      });
    }
    this.socket!.send(JSON.stringify(message.data));
  }
}
