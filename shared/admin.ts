import { z } from "zod";

/**
 * Runtime system configuration and emergency controls, as AdminDO stores them and the admin
 * API and dashboard exchange them. Versioned: every change makes a new version, and a rollback
 * is a new version whose content is an older one's.
 */
/**
 * Thresholds of the alert rules and of the health checks they share (docs/admin.md "Alerts").
 * Every field has a default, so configuration versions written before a field existed still parse.
 */
export const alertsConfigSchema = z
  .object({
    /** The chain is stalled when work has waited (or, with CHAIN_EMPTY_BLOCKS, the head has aged) this many slots. */
    chainStallSlots: z.number().int().min(2).max(100_000).default(6),
    /** A node's upload spool at or above this percent of its limit raises `node:spool:<id>`. */
    spoolFullPercent: z.number().int().min(1).max(100).default(90),
    /** Recorder / chunk processor / XRDP are `up` while at least this percent of online nodes report them healthy. */
    agentsUpPercent: z.number().int().min(1).max(100).default(90),
    /** The TRON health probe (one getnowblock) waits at most this long; slower than half of it is `degraded`. */
    tronProbeTimeoutMs: z.number().int().min(100).max(1_900).default(1_500),
    /** How often AdminDO evaluates the rules on its own (its alarm), besides every health check. */
    evaluateEverySeconds: z.number().int().min(5).max(3_600).default(30),
    /** Webhook deliveries: attempts before one is given up, and the first back-off (doubling each time). */
    webhookMaxAttempts: z.number().int().min(1).max(50).default(8),
    webhookBackoffSeconds: z.number().int().min(1).max(3_600).default(5),
  })
  .strict();
export type AlertsConfig = z.infer<typeof alertsConfigSchema>;
export const DEFAULT_ALERTS_CONFIG: AlertsConfig = alertsConfigSchema.parse({});

export const systemConfigSchema = z
  .object({
    /** The detail of the 503 every non-admin write gets while the lockdown is on. */
    lockdownMessage: z.string().trim().min(1).max(500),
    /** Consecutive failed health checks of one function before an alert is raised. */
    healthAlertAfterFailures: z.number().int().min(1).max(100),
    /** How many broadcast notifications are kept (newest first) for clients that reconnect. */
    notificationHistory: z.number().int().min(10).max(10_000),
    alerts: alertsConfigSchema.prefault({}),
  })
  .strict();
export type SystemConfig = z.infer<typeof systemConfigSchema>;

export const DEFAULT_SYSTEM_CONFIG: SystemConfig = {
  lockdownMessage: "Lucid is in emergency lockdown: writes are suspended; reads continue. Try again later.",
  healthAlertAfterFailures: 2,
  notificationHistory: 200,
  alerts: DEFAULT_ALERTS_CONFIG,
};

/** One changed setting between two configurations: its dotted path, and its JSON value before and after (undefined: absent). */
export interface ConfigChange {
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * The settings that differ between two configurations, by dotted path (nested objects are
 * walked; arrays and scalars compare as JSON), in path order.
 */
export function diffConfig(before: unknown, after: unknown, prefix = ""): ConfigChange[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => diffConfig(before[key], after[key], prefix ? `${prefix}.${key}` : key));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path: prefix, before, after }];
}

export const EMERGENCY_CONTROLS = ["lockdown", "recordings_halted", "sessions_shutdown"] as const;
export type EmergencyControl = (typeof EMERGENCY_CONTROLS)[number];

export interface EmergencyFlag {
  active: boolean;
  reason: string | null;
  changedBy: string | null;
  changedAt: number | null;
}

export interface EmergencySnapshot {
  lockdown: EmergencyFlag;
  recordings_halted: EmergencyFlag;
  sessions_shutdown: EmergencyFlag;
  lockdownMessage: string;
}

export const ALERT_SEVERITIES = ["info", "warning", "critical"] as const;
export const ALERT_STATES = ["open", "acknowledged", "resolved"] as const;

/** What a function passes to raiseAlert(); `key` de-duplicates: a repeat while open counts up. */
export const alertInputSchema = z
  .object({
    key: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9._:/-]+$/, "must be a plain key such as rdp:host-1:cpu"),
    severity: z.enum(ALERT_SEVERITIES),
    source: z.string().min(1).max(64),
    title: z.string().trim().min(1).max(200),
    detail: z.string().max(2000).optional(),
  })
  .strict();
export type AlertInput = z.input<typeof alertInputSchema>;

export interface AlertView {
  id: string;
  key: string;
  severity: (typeof ALERT_SEVERITIES)[number];
  source: string;
  title: string;
  detail: string | null;
  state: (typeof ALERT_STATES)[number];
  count: number;
  firstAt: number;
  lastAt: number;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  resolvedBy: string | null;
  resolvedAt: number | null;
}

export const NOTIFICATION_AUDIENCES = ["all", "clients", "agents"] as const;
export type NotificationAudience = (typeof NOTIFICATION_AUDIENCES)[number];

const severity = z.enum(ALERT_SEVERITIES);
const emergencyFlagSchema = z.object({
  active: z.boolean(),
  reason: z.string().nullable(),
  changedBy: z.string().nullable(),
  changedAt: z.number().nullable(),
});

/** A broadcast (or its retraction) on the notification stream; `id` increases and is never reused. */
export const notificationMessageSchema = z.object({
  type: z.enum(["notification", "retraction"]),
  id: z.number().int().min(1),
  at: z.string(),
  audience: z.enum(NOTIFICATION_AUDIENCES),
  severity,
  title: z.string().max(200),
  body: z.string().max(2000),
});

/** An emergency control changed (not stored: the next `hello` carries the whole state). */
export const emergencyMessageSchema = notificationMessageSchema.extend({
  type: z.literal("emergency"),
  id: z.literal(0),
  control: z.enum(EMERGENCY_CONTROLS),
  active: z.boolean(),
});

export const emergencySnapshotSchema = z.object({
  lockdown: emergencyFlagSchema,
  recordings_halted: emergencyFlagSchema,
  sessions_shutdown: emergencyFlagSchema,
  lockdownMessage: z.string(),
});

/**
 * The first message on every connection. `recent`: the newest notifications (oldest first) for a
 * listener that connected without `after`; with `after`, every notification after it follows the
 * hello as ordinary `notification` messages (`resumedAfter` says so). `lastId` is the newest id the
 * server has issued, so a listener whose cursor is ahead of it knows the server's history was reset.
 */
export const helloMessageSchema = z.object({
  type: z.literal("hello"),
  listener: z.enum(["client", "agent"]),
  emergency: emergencySnapshotSchema,
  recent: z.array(notificationMessageSchema),
  lastId: z.number().int().min(0),
  resumedAfter: z.number().int().min(0).nullable(),
  /** With `after`: the kept notifications at or before it that have been retracted (a listener may have missed the retraction). */
  retracted: z.array(z.number().int().min(1)).max(10_000),
});

/** Every message on GET /api/v1/notifications/live, validated by the agent (and any client). */
export const notificationStreamSchema = z.discriminatedUnion("type", [
  helloMessageSchema,
  notificationMessageSchema.extend({ type: z.literal("notification") }),
  notificationMessageSchema.extend({ type: z.literal("retraction") }),
  emergencyMessageSchema,
  z.object({ type: z.literal("pong") }),
]);
export type NotificationStreamMessage = z.infer<typeof notificationStreamSchema>;
export type HelloMessage = z.infer<typeof helloMessageSchema>;
export type EmergencyMessage = z.infer<typeof emergencyMessageSchema>;

export type BroadcastMessage = z.infer<typeof notificationMessageSchema>;
/** A message on the notification stream (GET /api/v1/notifications/live). */
export type NotificationMessage = BroadcastMessage | EmergencyMessage;
export const NOTIFICATIONS_LIVE_PATH = "/api/v1/notifications/live";
