import { INTERACTION_POLICIES } from "../../shared/recording/events.ts";
import { z } from "@hono/zod-openapi";
import { BACKENDS, COLOUR_DEPTHS, ResolutionSchema, ServerLimitsSchema } from "../../shared/rdp/protocol.ts";
import { SERVER_LIFECYCLE } from "../../shared/rdp/states.ts";

const nodeId = z.string().regex(/^node_[0-9a-f-]{36}$/, "must be a node id (node_<uuid>)");
const serverId = z.string().regex(/^rdp_[0-9a-f]{24}$/, "must be an RDP server id (rdp_<24 hex>)");
const sessionId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a session id");
const iso = z.string().openapi({ format: "date-time" });

export const HostParam = z.object({ hostId: nodeId.openapi({ example: "node_0b7e…" }) });
export const ServerParam = HostParam.extend({ serverId: serverId.openapi({ example: "rdp_9f…" }) });

export const LimitsSchema = ServerLimitsSchema.openapi("RdpServerLimits");

export const DesktopRequestSchema = z
  .object({
    sessionId,
    resolution: ResolutionSchema.default({ width: 1920, height: 1080 }),
    colourDepth: z
      .union(COLOUR_DEPTHS.map((d) => z.literal(d)) as [z.ZodLiteral<15>, z.ZodLiteral<16>, z.ZodLiteral<24>, z.ZodLiteral<32>])
      .default(24),
    backend: z.enum(BACKENDS).default("xorg"),
    /** Shorter than the configured maximum session time only. */
    sessionTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .optional(),
  })
  .strict()
  .openapi("DesktopRequest");

export const ServerSchema = z
  .object({
    id: z.string(),
    hostId: z.string(),
    sessionId: z.string(),
    ownerId: z.string(),
    port: z.number().int().nullable(),
    state: z.enum(SERVER_LIFECYCLE),
    connection: z.enum(["connecting", "connected", "active", "idle", "disconnected", "terminated"]).nullable(),
    config: z.object({
      resolution: z.object({ width: z.number().int(), height: z.number().int() }),
      colourDepth: z.number().int(),
      backend: z.enum(BACKENDS),
      user: z.string(),
      clipboard: z
        .boolean()
        .optional()
        .openapi({ description: "the session's clipboard policy: xrdp's cliprdr (and rdpdr) channel on or off" }),
      audio: z.boolean().optional().openapi({ description: "the session's audio policy: xrdp's rdpsnd channel on or off" }),
      interaction: z
        .enum(INTERACTION_POLICIES)
        .optional()
        .openapi({ description: "the session's interaction policy: what the host's recorder records of input (absent: none)" }),
    }),
    limits: LimitsSchema,
    createdAt: iso,
    stateChangedAt: iso,
    startedAt: iso.nullable(),
    expiresAt: iso.nullable(),
    idleSince: iso.nullable(),
    strikes: z.number().int(),
    lastReport: z
      .object({ cpuPercent: z.number(), memoryMb: z.number(), diskMb: z.number(), rxKbps: z.number(), txKbps: z.number() })
      .nullable(),
    lastReportAt: iso.nullable(),
    endReason: z.string().nullable(),
    migratedTo: z.string().nullable(),
  })
  .openapi("RdpServer");

export const DesktopSchema = z
  .object({
    server: ServerSchema,
    /** Host name or address the agent advertised (null: not advertised; use the Pi's address). */
    host: z.string().nullable(),
    port: z.number().int(),
    username: z.string(),
    /** One-time password: shown once, replaced on the next connect or transfer. */
    password: z.string(),
  })
  .openapi("Desktop");

export const ServerListSchema = z.object({ servers: z.array(ServerSchema) }).openapi("RdpServerList");

export const HostStatusSchema = z
  .object({
    hostId: z.string(),
    connected: z.boolean(),
    address: z.string().nullable(),
    agentVersion: z.string().nullable(),
    lastSeenAt: iso.nullable(),
    serversLive: z.number().int(),
    pendingCommands: z.number().int(),
  })
  .openapi("RdpHostStatus");

export const AlertSchema = z
  .object({
    id: z.number().int(),
    hostId: z.string(),
    serverId: z.string(),
    level: z.enum(["warning", "critical"]),
    metric: z.string(),
    value: z.number(),
    limit: z.number(),
    message: z.string(),
    at: iso,
  })
  .openapi("RdpAlert");

export const AlertListSchema = z.object({ alerts: z.array(AlertSchema) }).openapi("RdpAlertList");

export const TransferSchema = z
  .object({ toUserId: z.string().min(1).max(128) })
  .strict()
  .openapi("RdpTransfer");
export const MigrateSchema = z.object({ toHostId: nodeId }).strict().openapi("RdpMigrate");
export const NotifySchema = z
  .object({ level: z.enum(["info", "warning"]).default("info"), message: z.string().trim().min(1).max(500) })
  .strict()
  .openapi("RdpNotify");
export const ListQuery = z.object({ live: z.enum(["true", "false"]).default("false") });
export const AlertQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

export const ReportQuery = z
  .object({
    minutes: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(60),
    limit: z.coerce.number().int().min(1).max(5000).default(1000),
  })
  .strict();

export const ReportHistorySchema = z
  .object({
    serverId: z.string(),
    reports: z.array(
      z.object({ at: iso, cpuPercent: z.number(), memoryMb: z.number(), diskMb: z.number(), rxKbps: z.number(), txKbps: z.number() }),
    ),
  })
  .openapi("RdpResourceHistory");
