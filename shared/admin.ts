import { z } from "zod";

/**
 * Runtime system configuration and emergency controls, as AdminDO stores them and the admin
 * API and dashboard exchange them. Versioned: every change makes a new version, and a rollback
 * is a new version whose content is an older one's.
 */
export const systemConfigSchema = z
  .object({
    /** The detail of the 503 every non-admin write gets while the lockdown is on. */
    lockdownMessage: z.string().trim().min(1).max(500),
    /** Consecutive failed health checks of one function before an alert is raised. */
    healthAlertAfterFailures: z.number().int().min(1).max(100),
    /** How many broadcast notifications are kept (newest first) for clients that reconnect. */
    notificationHistory: z.number().int().min(10).max(10_000),
  })
  .strict();
export type SystemConfig = z.infer<typeof systemConfigSchema>;

export const DEFAULT_SYSTEM_CONFIG: SystemConfig = {
  lockdownMessage: "Lucid is in emergency lockdown: writes are suspended; reads continue. Try again later.",
  healthAlertAfterFailures: 2,
  notificationHistory: 200,
};

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
    key: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:/-]+$/, "must be a plain key such as rdp:host-1:cpu"),
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

/** A message on the notification stream (GET /api/v1/notifications/live). */
export interface NotificationMessage {
  type: "notification" | "retraction" | "emergency";
  id: number;
  at: string;
  audience: NotificationAudience;
  severity: (typeof ALERT_SEVERITIES)[number];
  title: string;
  body: string;
}
