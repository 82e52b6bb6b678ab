import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  agentSigningBytes,
  CHANNEL_PATH,
  ServerFrame,
  type CommandFrame,
  type EventBody,
  type UnsignedAgentMessage,
} from "../../shared/rdp/protocol.ts";
import { api } from "./helpers.ts";
import type { TestNode } from "./node-agent.ts";

type Frame = ReturnType<typeof ServerFrame.parse>;
type SecretKey = ReturnType<typeof ed25519.utils.randomSecretKey>;

/**
 * A Pi agent as far as the channel goes: opens the real WebSocket through the Worker with its
 * node credential, validates every frame with the shared schema, signs what it sends with the
 * node's Ed25519 key. What it does with commands is up to the test (ack, ignore, fail).
 */
export class TestRdpAgent {
  readonly frames: Frame[] = [];
  channel = "";
  seq = 0;
  closed: { code: number; reason: string } | null = null;
  #ws: WebSocket | null = null;
  #wake: () => void = () => {};
  #cursor = 0;

  constructor(readonly node: TestNode) {}

  static async connect(
    node: TestNode,
    options: { hello?: boolean; address?: string; ports?: { min: number; max: number }; batches?: boolean } = {},
  ): Promise<TestRdpAgent> {
    const agent = new TestRdpAgent(node);
    const res = await api(CHANNEL_PATH(node.id), { headers: { "X-Node-Credential": node.credential, Upgrade: "websocket" } });
    if (res.status !== 101) throw new Error(`channel refused: ${res.status} ${await res.text()}`);
    agent.#attach(res.webSocket!);
    const welcome = await agent.next("welcome");
    agent.channel = welcome.channel;
    if (options.hello ?? true)
      agent.send({
        type: "hello",
        protocol: 1,
        agentVersion: "test-agent/1",
        servers: [],
        ...(options.address ? { address: options.address } : {}),
        ...(options.ports ? { ports: options.ports } : {}),
        ...(options.batches ? { batches: true as const } : {}),
      });
    return agent;
  }

  #attach(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (event) => {
      this.frames.push(ServerFrame.parse(JSON.parse(event.data as string)));
      this.#wake();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#wake();
    });
    ws.accept();
  }

  /** The next unread frame of this type (commands: optionally of a kind). */
  async next<T extends Frame["type"]>(type: T, kind?: string): Promise<Extract<Frame, { type: T }>> {
    for (;;) {
      while (this.#cursor < this.frames.length) {
        const frame = this.frames[this.#cursor++]!;
        if (frame.type === type && (kind === undefined || (frame.type === "command" && frame.command.kind === kind)))
          return frame as Extract<Frame, { type: T }>;
      }
      if (this.closed) throw new Error(`channel closed (${this.closed.code} ${this.closed.reason}) while waiting for ${type}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async command(kind?: string): Promise<CommandFrame> {
    return this.next("command", kind);
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    while (!this.closed) await new Promise<void>((resolve) => (this.#wake = resolve));
    return this.closed;
  }

  /** Signs and sends; `seq` defaults to the next one. Returns what was sent (for replay tests). */
  send(
    message: DistributiveOmit<UnsignedAgentMessage, "channel" | "seq" | "sentAt"> & { seq?: number; channel?: string },
    signWith: SecretKey = this.node.secretKey,
  ): string {
    const seq = message.seq ?? this.seq + 1;
    this.seq = Math.max(this.seq, seq);
    const unsigned = { ...message, channel: message.channel ?? this.channel, seq, sentAt: Date.now() } as UnsignedAgentMessage;
    const text = JSON.stringify({ ...unsigned, sig: bytesToHex(ed25519.sign(agentSigningBytes(this.node.id, unsigned), signWith)) });
    this.raw(text);
    return text;
  }

  raw(text: string) {
    this.#ws!.send(text);
  }

  ack(commandId: string, outcome: "done" | "failed" = "done") {
    return this.send({
      type: "ack",
      commandId,
      outcome,
      ...(outcome === "failed" ? { error: { code: "test", detail: "failed on purpose" } } : {}),
    });
  }

  event(event: EventBody) {
    return this.send({ type: "event", event });
  }

  close() {
    this.#ws?.close(1000, "test done");
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
