import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { loadConfig, type Config } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { AGENT_TAG, AttachmentSchema, type Attachment } from "./channel.ts";
import type { HostMetrics } from "./host-metrics.ts";
import * as schema from "./schema.ts";
import { serverView, type ServerRow, type ServerView } from "./views.ts";

const { servers, host } = schema;

/**
 * What the RdpHostDO's parts share: its storage and bindings, the host row, the server rows,
 * the agent's socket (from the hibernation API) and the metrics buffer.
 */
export class Host {
  constructor(
    readonly ctx: DurableObjectState,
    readonly env: Env,
    readonly db: DrizzleSqliteDODatabase<typeof schema>,
    readonly metrics: HostMetrics,
  ) {}

  get config(): Config {
    return loadConfig(this.env);
  }

  id(): string {
    return this.db.select({ id: host.id }).from(host).get()?.id ?? "";
  }

  ensure(hostId: string): void {
    this.db.insert(host).values({ id: hostId }).onConflictDoNothing().run();
  }

  /** The address the agent reported in its hello (null until then). */
  address(): string | null {
    return this.db.select({ address: host.address }).from(host).get()?.address ?? null;
  }

  server(id: string): ServerRow | undefined {
    return this.db.select().from(servers).where(eq(servers.id, id)).get();
  }

  view(row: ServerRow): ServerView {
    return serverView(row, this.id());
  }

  /** The agent's open socket and its attachment, if one is connected. */
  agent(): { ws: WebSocket; att: Attachment } | null {
    for (const ws of this.ctx.getWebSockets(AGENT_TAG)) {
      const att = AttachmentSchema.safeParse(ws.deserializeAttachment());
      if (att.success && ws.readyState === 1) return { ws, att: att.data };
    }
    return null;
  }

  count(name: string, labels: Record<string, string>, by = 1): void {
    this.metrics.count(name, labels, by);
  }
}
