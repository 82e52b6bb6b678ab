import { z } from "zod";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { SessionContext } from "./context.ts";
import type { RdpStatusUpdate } from "./types.ts";

const liveClientMessage = z.object({ type: z.literal("ping") }).strict();
const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * The session's live status stream on the WebSocket hibernation API: the current status at
 * once, then one message per change (SessionContext.broadcast) and per RDP state change.
 * Sockets are found again through getWebSockets(); nothing is kept in memory.
 */
export class LiveStatus {
  constructor(private readonly s: SessionContext) {}

  /** Upgrades a request the route has already authorized into a status stream. */
  accept(request: Request): Response {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response(null, { status: 426 });
    const row = this.s.row();
    if (!row) return new Response(null, { status: 404 });
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.s.ctx.acceptWebSocket(server);
    server.send(JSON.stringify(this.s.statusMessage(row)));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** The stream is one-way; a client may only ping. */
  message(ws: WebSocket, message: string | ArrayBuffer): void {
    if (typeof message === "string" && liveClientMessage.safeParse(safeJson(message)).success) {
      ws.send(JSON.stringify({ type: "pong" }));
    } else {
      ws.close(1003, 'only {"type":"ping"} is accepted');
    }
  }

  /**
   * An RDP desktop of this session changed state: recorded as an `rdp` event and pushed to every
   * live status stream as `{ type: "rdp", … }`. The session's own state is not touched.
   */
  rdpStatus(update: RdpStatusUpdate): Outcome<void> {
    const row = this.s.row();
    if (!row) return refuse("not-found", "No such session.");
    this.s.event("rdp", "system", update);
    this.s.send(JSON.stringify({ type: "rdp" as const, sessionId: row.id, ...update }));
    return ok(undefined);
  }
}
