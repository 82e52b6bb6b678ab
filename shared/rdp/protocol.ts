import { z } from "zod";
import { canonicalBytes } from "../nodes/canonical.ts";
import { InteractionPolicy } from "../recording/events.ts";

/**
 * The RDP agent channel, version 1: one WebSocket between a Pi's agent and its host's RdpHostDO.
 *
 * Connecting. The agent opens `GET /api/v1/rdp/hosts/<nodeId>/channel` with `Upgrade: websocket`
 * and its node credential (`X-Node-Credential: <jwt>` or `Authorization: Bearer <jwt>`, as
 * functions/nodes issues it, in the full form with `pool` and `jti`). `sub` must equal `<nodeId>`;
 * a revoked credential or a suspended node is refused before the upgrade. The DO accepts with the
 * hibernation API (an idle Pi costs nothing) and at once sends `welcome`, carrying a fresh random
 * `channel` id. A newer connection of the same host replaces an older one (closed with 4000).
 *
 * Authenticity. Every agent → DO frame (`AgentMessage`) carries `channel` (from `welcome`), `seq`
 * (1, 2, 3 … within that channel, strictly increasing) and `sig`: the node's Ed25519 signature
 * (the key it registered with NodePoolDO) over `agentSigningBytes(hostId, message)` — canonical
 * JSON (shared/nodes/canonical.ts) of `{ domain: "lucid.rdp.agent.v1", hostId, message }` with
 * `sig` left out. A frame that fails zod, carries another channel, repeats or lowers `seq`, or
 * does not verify is a forgery: the DO answers `error` and closes 1008; nothing changes. DO →
 * agent frames are not signed: the agent trusts the TLS connection it opened.
 *
 * Commands. DO → agent `command` frames carry a random `id` and a per-host increasing `seq`.
 * The agent acts, then answers `ack` with the id: `done` or `failed` (with an error). A command
 * stays pending until acked: it is sent again after `hello` on every new connection (all pending
 * commands, in `seq` order) and re-sent on a live connection with back-off (RETRY_BASE_SECONDS,
 * doubled per attempt, at most RETRY_MAX_SECONDS). After `maxAttempts` deliveries without an ack
 * the DO gives up: the command is `expired` and its server `failed` (port released). The agent
 * must therefore treat a repeated id as a duplicate: do not act twice, ack again with the same
 * outcome (remember acked ids for at least the last 1000 commands).
 *
 * Events. The agent reports its servers' lifecycle (`server`), the RDP connection state
 * (`connection`, as xrdp sees it) and resource use (`resources`, every `reportSeconds` from
 * `welcome`). Events are not acked individually; the DO applies them in `seq` order.
 *
 * Keep-alive. Text `{"type":"ping"}` gets `{"type":"pong"}` from the runtime without waking the
 * DO (setWebSocketAutoResponse): send it every `keepAliveSeconds`. Pings are not signed.
 *
 * Reconnect. On close or a missed pong, the agent reconnects with exponential back-off (1 s
 * doubling to 60 s, ±20 % jitter), sends `hello` with the servers it still runs, and the DO
 * replays every pending command. `hello` is how the DO learns which servers survived.
 */
export const PROTOCOL_VERSION = 1 as const;
export const SIGNING_DOMAIN = "lucid.rdp.agent.v1" as const;
export const CHANNEL_PATH = (nodeId: string) => `/api/v1/rdp/hosts/${encodeURIComponent(nodeId)}/channel`;
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';
/** Close codes the DO uses. */
export const CLOSE_REPLACED = 4000;
export const CLOSE_POLICY = 1008;
export const CLOSE_UNSUPPORTED = 1003;

export const RETRY_BASE_SECONDS = 5;
export const RETRY_MAX_SECONDS = 60;

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1–64 characters of [A-Za-z0-9_-]");
const timestampMs = z.number().int().min(0).max(8.64e15);
const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));

// ---- server configuration -----------------------------------------------------------------

export const BACKENDS = ["xorg", "xvnc"] as const;
export const COLOUR_DEPTHS = [15, 16, 24, 32] as const;

/** A POSIX login name the agent creates or uses on the Pi. */
export const PosixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,30}$/, "must be a POSIX user name (lowercase, ≤ 31 characters)");

export const ResolutionSchema = z
  .object({ width: z.number().int().min(640).max(7680), height: z.number().int().min(480).max(4320) })
  .strict();

export const ServerConfigSchema = z
  .object({
    resolution: ResolutionSchema,
    colourDepth: z.union(
      COLOUR_DEPTHS.map((d) => z.literal(d)) as [z.ZodLiteral<15>, z.ZodLiteral<16>, z.ZodLiteral<24>, z.ZodLiteral<32>],
    ),
    backend: z.enum(BACKENDS),
    user: PosixUser,
    /**
     * The session's clipboard policy (rdp.clipboard): xrdp's cliprdr channel, and rdpdr (drive
     * redirection, the other way to carry data across), on or off. Absent: off.
     */
    clipboard: z.boolean().optional(),
    /** The session's audio policy (rdp.audio): xrdp's rdpsnd channel on or off. Absent: off. */
    audio: z.boolean().optional(),
    /**
     * What the recorder records of input beside the pixels (shared/recording/events.ts), chosen
     * when the session is created. Absent: none.
     */
    interaction: InteractionPolicy.optional(),
  })
  .strict();
export type ServerConfig = z.infer<typeof ServerConfigSchema>;

/** Per-server limits the agent applies (cgroup CPU weight, memory max) and the monitor enforces. */
export const ServerLimitsSchema = z
  .object({
    /** Percent of one Pi's CPU time (100 = all cores). */
    cpuSharePercent: z.number().int().min(1).max(100),
    memoryMb: z
      .number()
      .int()
      .min(64)
      .max(1024 * 1024),
    diskMb: z
      .number()
      .int()
      .min(16)
      .max(16 * 1024 * 1024),
    bandwidthKbps: z.number().int().min(64).max(10_000_000),
    /** Maximum session time; the DO terminates the server when it is reached. */
    sessionTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400),
  })
  .strict();
export type ServerLimits = z.infer<typeof ServerLimitsSchema>;

// ---- DO → agent ---------------------------------------------------------------------------

export const StartServerCommand = z
  .object({
    kind: z.literal("server.start"),
    serverId: id,
    /** The recording session this desktop belongs to. */
    sessionId: id,
    /** xrdp listens on 127.0.0.1-or-LAN:port; allocated from 13389–14389. */
    port: z.number().int().min(1).max(65535),
    config: ServerConfigSchema,
    limits: ServerLimitsSchema,
    /** One-time credentials for `config.user`: set the password, valid until the server stops. */
    password: z.string().min(16).max(128),
  })
  .strict();

export const StopServerCommand = z
  .object({
    kind: z.literal("server.stop"),
    serverId: id,
    /** Why (idle-timeout, ttl-expired, limit-exceeded, requested, migrated, …): for the agent's log and the user. */
    reason: z.string().min(1).max(64),
    /** Also remove the server's user data and one-time password (destroy). */
    destroy: z.boolean(),
  })
  .strict();

export const UpdateLimitsCommand = z.object({ kind: z.literal("server.limits"), serverId: id, limits: ServerLimitsSchema }).strict();

/** Tell the connected user something (limit warning, imminent expiry). */
export const NotifyCommand = z
  .object({ kind: z.literal("server.notify"), serverId: id, level: z.enum(["info", "warning"]), message: z.string().min(1).max(500) })
  .strict();

/** Replace the one-time password (a new owner after a transfer, or new connection credentials). */
export const CredentialsCommand = z
  .object({ kind: z.literal("server.credentials"), serverId: id, password: z.string().min(16).max(128) })
  .strict();

export const CommandBody = z.discriminatedUnion("kind", [
  StartServerCommand,
  StopServerCommand,
  UpdateLimitsCommand,
  NotifyCommand,
  CredentialsCommand,
]);
export type CommandBody = z.infer<typeof CommandBody>;
export type CommandKind = CommandBody["kind"];

export const WelcomeFrame = z
  .object({
    type: z.literal("welcome"),
    protocol: z.literal(PROTOCOL_VERSION),
    hostId: id,
    channel: hex(16),
    serverTime: timestampMs,
    keepAliveSeconds: z.number().int().min(1),
    reportSeconds: z.number().int().min(1),
  })
  .strict();

export const CommandFrame = z
  .object({
    type: z.literal("command"),
    id,
    seq,
    /** 1 on the first delivery; higher on a retry or replay. */
    attempt: z.number().int().min(1),
    issuedAt: timestampMs,
    command: CommandBody,
  })
  .strict();
export type CommandFrame = z.infer<typeof CommandFrame>;

/** Most `command` entries one `commands` frame carries. */
export const COMMANDS_PER_FRAME = 500;

/**
 * Several commands in one frame (additive, protocol 1), sent only to an agent whose hello said
 * `batches: true`: a replay after hello goes out in a few frames instead of one per command. Each
 * entry is exactly a `command` frame and is handled as one (ids, seq order, duplicates, acks).
 */
export const CommandsFrame = z
  .object({
    type: z.literal("commands"),
    commands: z.array(CommandFrame).min(1).max(COMMANDS_PER_FRAME),
  })
  .strict();
export type CommandsFrame = z.infer<typeof CommandsFrame>;

export const ErrorFrame = z
  .object({
    type: z.literal("error"),
    /** A problem slug (shared/errors.ts), e.g. invalid-signature, invalid-message, replayed-message. */
    code: z.string().min(1).max(64),
    detail: z.string().max(500),
    /** The agent seq the error is about, when there is one. */
    ref: seq.optional(),
  })
  .strict();

export const ServerFrame = z.discriminatedUnion("type", [
  WelcomeFrame,
  CommandFrame,
  CommandsFrame,
  ErrorFrame,
  z.object({ type: z.literal("pong") }).strict(),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

// ---- agent → DO ---------------------------------------------------------------------------

export const SERVER_STATES = ["starting", "listening", "stopped", "failed"] as const;
/** What xrdp reports about the one RDP connection a server carries (terminated is the DO's). */
export const CONNECTION_STATES = ["connecting", "connected", "active", "idle", "disconnected"] as const;

export const ServerEvent = z
  .object({
    kind: z.literal("server"),
    serverId: id,
    state: z.enum(SERVER_STATES),
    detail: z.string().max(500).optional(),
  })
  .strict();

export const ConnectionEvent = z
  .object({
    kind: z.literal("connection"),
    serverId: id,
    state: z.enum(CONNECTION_STATES),
    /** The RDP client's address as xrdp logged it. */
    client: z.string().max(128).optional(),
  })
  .strict();

export const ResourceReport = z
  .object({
    kind: z.literal("resources"),
    serverId: id,
    /** Whole percent of the Pi's CPU time over the report interval (integers: canonical JSON carries no floats). */
    cpuPercent: z.number().int().min(0).max(100),
    memoryMb: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024 * 1024),
    diskMb: z
      .number()
      .int()
      .min(0)
      .max(1024 * 1024 * 1024),
    rxKbps: z.number().int().min(0).max(100_000_000),
    txKbps: z.number().int().min(0).max(100_000_000),
  })
  .strict();
export type ResourceReport = z.infer<typeof ResourceReport>;

export const EventBody = z.discriminatedUnion("kind", [ServerEvent, ConnectionEvent, ResourceReport]);
export type EventBody = z.infer<typeof EventBody>;

const signed = {
  channel: hex(16),
  seq,
  sentAt: timestampMs,
  /** Ed25519 over agentSigningBytes(hostId, message without sig), 128 hex characters. */
  sig: hex(64),
};

export const HelloMessage = z
  .object({
    type: z.literal("hello"),
    ...signed,
    protocol: z.literal(PROTOCOL_VERSION),
    agentVersion: z.string().min(1).max(64),
    /** Host name or IP address RDP clients use to reach this Pi (given to users with their port). */
    address: z
      .string()
      .regex(/^[A-Za-z0-9.:[\]-]{1,253}$/)
      .optional(),
    /**
     * The ports this agent may serve RDP on (its `--rdp-ports`; default the whole pool): the host
     * allocates inside both its pool and this range, so two agents on one machine never share a port.
     */
    ports: z
      .object({ min: z.number().int().min(1).max(65535), max: z.number().int().min(1).max(65535) })
      .strict()
      .optional(),
    /** Servers the agent still runs (after a reconnect or an agent restart). */
    servers: z.array(z.object({ serverId: id, state: z.enum(SERVER_STATES) }).strict()).max(1000),
    /** The agent understands `commands` frames (additive, protocol 1): its replay comes batched. */
    batches: z.literal(true).optional(),
  })
  .strict();

export const AckMessage = z
  .object({
    type: z.literal("ack"),
    ...signed,
    commandId: id,
    outcome: z.enum(["done", "failed"]),
    error: z
      .object({ code: z.string().min(1).max(64), detail: z.string().max(500) })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Several acks in one frame (additive, protocol 1): an agent draining a replay burst acks in
 * batches, so the DO commits once per frame instead of once per command. Same rules as `ack`.
 */
export const AcksMessage = z
  .object({
    type: z.literal("acks"),
    ...signed,
    acks: z
      .array(
        z
          .object({
            commandId: id,
            outcome: z.enum(["done", "failed"]),
            error: z
              .object({ code: z.string().min(1).max(64), detail: z.string().max(500) })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

export const EventMessage = z.object({ type: z.literal("event"), ...signed, event: EventBody }).strict();

export const AgentMessage = z.discriminatedUnion("type", [HelloMessage, AckMessage, EventMessage, AcksMessage]);
export type AgentMessage = z.infer<typeof AgentMessage>;
export type UnsignedAgentMessage = AgentMessage extends infer M ? (M extends AgentMessage ? Omit<M, "sig"> : never) : never;

/** The bytes the agent signs and the DO verifies. */
export function agentSigningBytes(hostId: string, message: UnsignedAgentMessage | AgentMessage): Uint8Array {
  const { sig: _ignored, ...unsigned } = message as AgentMessage;
  return canonicalBytes({ domain: SIGNING_DOMAIN, hostId, message: unsigned });
}

/** Retry delay after `attempt` deliveries (1-based): base · 2^(attempt−1), capped. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** Math.max(0, attempt - 1));
}
