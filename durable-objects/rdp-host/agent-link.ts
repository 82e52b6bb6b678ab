import { eq } from "drizzle-orm";
import { logEvent } from "../../shared/log.ts";
import { CLOSE_POLICY, CLOSE_REPLACED, PROTOCOL_VERSION, type AgentMessage, type EventBody } from "../../shared/rdp/protocol.ts";
import type { ServerState } from "../../shared/rdp/states.ts";
import {
  AGENT_TAG,
  AttachmentSchema,
  checkAgentFrame,
  errorFrame,
  HOST_HEADER,
  PUBLIC_KEY_HEADER,
  randomHex,
  type Attachment,
} from "./channel.ts";
import type { CommandQueue } from "./command-queue.ts";
import { LIVE, type ServerController } from "./controller.ts";
import type { Host } from "./host.ts";
import type { ResourceMonitor } from "./resource-monitor.ts";
import * as schema from "./schema.ts";

const { servers, host } = schema;

/**
 * The agent's WebSocket (hibernation API): accepts it (a newer connection replaces the older
 * one), checks every frame (channel, sequence, signature) and turns hello, acks and events
 * into the controller's transitions.
 */
export class AgentLink {
  constructor(
    private readonly host: Host,
    private readonly controller: ServerController,
    private readonly commands: CommandQueue,
    private readonly monitor: ResourceMonitor,
    private readonly schedule: () => Promise<void>,
  ) {}

  /** The route has verified the node credential and passes the host id and the node's public key. */
  async accept(request: Request): Promise<Response> {
    const ctx = this.host.ctx;
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response(null, { status: 426 });
    const hostId = request.headers.get(HOST_HEADER);
    const publicKey = request.headers.get(PUBLIC_KEY_HEADER);
    if (!hostId || !publicKey) return new Response(null, { status: 400 });
    this.host.ensure(hostId);
    for (const old of ctx.getWebSockets(AGENT_TAG)) old.close(CLOSE_REPLACED, "replaced by a newer connection");
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    ctx.acceptWebSocket(server, [AGENT_TAG]);
    const now = Date.now();
    const att: Attachment = { hostId, publicKey, channel: randomHex(16), lastSeq: 0, helloed: false, lastMessageAt: now };
    server.serializeAttachment(att);
    const config = this.host.config;
    server.send(
      JSON.stringify({
        type: "welcome",
        protocol: PROTOCOL_VERSION,
        hostId,
        channel: att.channel,
        serverTime: now,
        keepAliveSeconds: config.RDP_KEEPALIVE_SECONDS,
        reportSeconds: config.RDP_REPORT_SECONDS,
      }),
    );
    this.host.db.update(host).set({ connectedAt: now, lastSeenAt: now }).where(eq(host.id, hostId)).run();
    this.host.count("lucid_rdp_agent_connections_total", {});
    await this.schedule();
    return new Response(null, { status: 101, webSocket: client });
  }

  async message(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const att = AttachmentSchema.safeParse(ws.deserializeAttachment());
    if (!att.success) return ws.close(CLOSE_POLICY, "unknown socket");
    const verdict = await checkAgentFrame(raw, att.data);
    if (!verdict.ok) {
      this.host.count("lucid_rdp_agent_frames_refused_total", { reason: verdict.code });
      logEvent("warn", "rdp.agent.frame_refused", { hostId: att.data.hostId, code: verdict.code }, this.host.config.LOG_LEVEL);
      ws.send(errorFrame(verdict.code, verdict.detail, verdict.ref));
      ws.close(CLOSE_POLICY, verdict.code);
      return;
    }
    const message = verdict.message;
    // Re-read after the (async) signature check: a frame processed meanwhile may have moved the sequence on.
    const current = AttachmentSchema.parse(ws.deserializeAttachment());
    if (message.seq <= current.lastSeq) {
      ws.send(errorFrame("replayed-message", `seq ${message.seq} is not above the last accepted ${current.lastSeq}.`, message.seq));
      ws.close(CLOSE_POLICY, "replayed-message");
      return;
    }
    const now = Date.now();
    const next: Attachment = { ...current, lastSeq: message.seq, lastMessageAt: now, helloed: current.helloed || message.type === "hello" };
    if (message.type === "hello") {
      if (message.ports) next.ports = message.ports;
      else delete next.ports;
    }
    ws.serializeAttachment(next);
    if (message.type !== "hello" && !current.helloed) {
      ws.send(errorFrame("hello-required", "Send hello before anything else.", message.seq));
      return;
    }
    await this.#handle(ws, message, now);
    await this.host.metrics.flush();
  }

  close(ws: WebSocket, code: number): void {
    this.host.db.update(host).set({ lastSeenAt: Date.now() }).run();
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // Already closed.
    }
  }

  async #handle(ws: WebSocket, message: AgentMessage, now: number): Promise<void> {
    switch (message.type) {
      case "hello":
        this.host.db
          .update(host)
          .set({ address: message.address ?? null, agentVersion: message.agentVersion, lastSeenAt: now })
          .run();
        await this.#reconcile(message.servers);
        this.commands.replay(ws, message.batches === true);
        await this.schedule();
        return;
      case "ack":
        await this.#onAck(ws, message);
        return;
      case "acks":
        for (const ack of message.acks) await this.#onAck(ws, { ...ack, seq: message.seq });
        return;
      case "event":
        await this.#onEvent(message.event, now);
        return;
    }
  }

  /**
   * After hello: servers the agent runs but should not get a stop again; a starting server it
   * reports listening is running; a running server it no longer has (the agent restarted) failed.
   */
  async #reconcile(reported: { serverId: string; state: string }[]): Promise<void> {
    const onHost = new Map(reported.map((r) => [r.serverId, r.state]));
    for (const [serverId, state] of onHost) {
      if (state !== "listening" && state !== "starting") continue;
      const row = this.host.server(serverId);
      if (row?.state === "starting" && state === "listening") await this.controller.running(row);
      if (row && LIVE.includes(row.state as ServerState)) continue;
      if (!this.commands.forServer(serverId, "server.stop", true))
        this.commands.enqueue({ kind: "server.stop", serverId, reason: "unknown-to-host", destroy: true }, false);
    }
    for (const row of this.host.db.select().from(servers).where(eq(servers.state, "running")).all()) {
      const state = onHost.get(row.id);
      if (state !== "listening" && state !== "starting") await this.controller.fail(row, "lost-on-host");
    }
  }

  async #onAck(
    ws: WebSocket,
    ack: { commandId: string; outcome: "done" | "failed"; error?: { code: string; detail: string }; seq: number },
  ): Promise<void> {
    const row = this.commands.byId(ack.commandId);
    if (!row) {
      ws.send(errorFrame("unknown-command", `No command ${ack.commandId}.`, ack.seq));
      return;
    }
    // A duplicate ack (the agent re-acks a replayed command) changes nothing.
    if (row.status !== "pending") return;
    const error = ack.outcome === "failed" ? `${ack.error?.code ?? "failed"}: ${ack.error?.detail ?? ""}` : null;
    this.commands.settle(row, ack.outcome, error);
    this.host.count("lucid_rdp_commands_acked_total", { kind: row.kind, outcome: ack.outcome });
    if (row.kind !== "server.start" && row.kind !== "server.stop") return;
    const server = this.host.server(row.serverId);
    if (!server) return;
    if (row.kind === "server.start") {
      if (ack.outcome === "done") await this.controller.running(server);
      else await this.controller.fail(server, `start-failed`);
    } else if (row.body.kind === "server.stop") {
      const body = row.body;
      // The agent could not stop it: failed (the next hello's reconcile sends another stop if it still runs).
      if (ack.outcome === "failed") await this.controller.fail(server, "stop-failed");
      else await this.controller.stopped(server, body.destroy);
    }
  }

  async #onEvent(event: EventBody, now: number): Promise<void> {
    const server = this.host.server(event.serverId);
    if (!server) return;
    if (event.kind === "server") {
      if (event.state === "listening") await this.controller.running(server);
      else if (event.state === "stopped") await this.controller.stopped(server, false);
      else if (event.state === "failed")
        await this.controller.fail(server, event.detail ? `agent: ${event.detail.slice(0, 48)}` : "agent-reported-failure");
      return;
    }
    if (event.kind === "connection") {
      await this.controller.connection(server, event.state, null);
      return;
    }
    await this.monitor.report(server, event, now);
  }
}
