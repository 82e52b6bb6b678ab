import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ALERT_SEVERITIES, NOTIFICATION_AUDIENCES, type EmergencyControl, type EmergencyFlag } from "../../shared/admin.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { invalidateEmergencyCache } from "../middleware/emergency-gate.ts";
import { createApp, jsonBody, jsonResponse, routesTagged } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { unwrap } from "../../shared/outcome.ts";
import { auditAdmin, callAdmin, iso } from "./context.ts";
import { stopActiveRecordings } from "./recordings.ts";
import { ONE_FACTOR_MESSAGE, oneSecondFactor, requireSecondFactor, SecondFactorFields } from "./step-up.ts";

const route = routesTagged("admin");
const reason = z.string().trim().min(3).max(500);

const FlagSchema = z.object({
  active: z.boolean(),
  reason: z.string().nullable(),
  changedBy: z.string().nullable(),
  changedAt: z.string().nullable(),
});
const EmergencySchema = z
  .object({ lockdown: FlagSchema, recordings_halted: FlagSchema, sessions_shutdown: FlagSchema, lockdownMessage: z.string() })
  .openapi("EmergencyState");

const flagJson = (flag: EmergencyFlag) => ({ ...flag, changedAt: iso(flag.changedAt) });

const ToggleBody = z
  .object({ active: z.boolean(), reason, ...SecondFactorFields })
  .strict()
  .refine(oneSecondFactor, ONE_FACTOR_MESSAGE)
  .openapi("EmergencyToggle");

const RecordingsBody = z
  .object({
    active: z.boolean(),
    reason,
    /** Also stop (finalize) every session that is recording now; irreversible for those sessions. */
    stopActive: z.boolean().default(false),
    ...SecondFactorFields,
  })
  .strict()
  .refine(oneSecondFactor, ONE_FACTOR_MESSAGE)
  .openapi("RecordingsHalt");

const BroadcastBody = z
  .object({
    audience: z.enum(NOTIFICATION_AUDIENCES),
    severity: z.enum(ALERT_SEVERITIES),
    title: z.string().trim().min(1).max(120),
    body: z.string().trim().min(1).max(2000),
    ...SecondFactorFields,
  })
  .strict()
  .refine(oneSecondFactor, ONE_FACTOR_MESSAGE)
  .openapi("BroadcastNotification");

const FactorOnly = z.object(SecondFactorFields).strict().refine(oneSecondFactor, ONE_FACTOR_MESSAGE);

const NotificationSchema = z
  .object({
    type: z.enum(["notification", "retraction", "emergency"]),
    id: z.number().int(),
    at: z.string(),
    audience: z.enum(NOTIFICATION_AUDIENCES),
    severity: z.enum(ALERT_SEVERITIES),
    title: z.string(),
    body: z.string(),
  })
  .openapi("Notification");

const CHANGED = jsonResponse(EmergencySchema, "The emergency state after the change");

const getState = route(
  "GET /emergency",
  "The emergency controls: lockdown, recordings halted, new sessions shut down",
  guarded("admin:read"),
  { 200: jsonResponse(EmergencySchema, "Emergency state") },
);

const lockdown = route(
  "POST /emergency/lockdown",
  "Turn the lockdown on or off (ADMIN+, TOTP): every non-admin write gets 503, reads continue",
  guarded("emergency:control"),
  { 200: CHANGED },
  [400, 401, 403, 413, 415, 429, 500],
  { request: { body: jsonBody(ToggleBody) } },
);

const sessionsShutdown = route(
  "POST /emergency/sessions-shutdown",
  "Shut down (or reopen) the creation of new sessions (ADMIN+, TOTP)",
  guarded("emergency:control"),
  { 200: CHANGED },
  [400, 401, 403, 413, 415, 429, 500],
  { request: { body: jsonBody(ToggleBody) } },
);

const recordings = route(
  "POST /emergency/recordings",
  "Halt (or resume) all recordings (ADMIN+, TOTP): no session starts, no chunk is accepted; `stopActive` also stops every recording session",
  guarded("emergency:control"),
  {
    200: jsonResponse(
      EmergencySchema.extend({ stopped: z.array(z.object({ sessionId: z.string(), outcome: z.string() })) }),
      "The emergency state after the change, and what happened to each recording session",
    ),
  },
  [400, 401, 403, 413, 415, 429, 500],
  { request: { body: jsonBody(RecordingsBody) } },
);

const broadcast = route(
  "POST /emergency/notifications",
  "Broadcast a notification to connected clients and/or agents (ADMIN+, TOTP)",
  guarded("emergency:control"),
  { 201: jsonResponse(NotificationSchema, "Sent") },
  [400, 401, 403, 413, 415, 429, 500],
  { request: { body: jsonBody(BroadcastBody) } },
);

const retract = route(
  "POST /emergency/notifications/{id}/retract",
  "Retract a broadcast notification (ADMIN+, TOTP): listeners get a `retraction`",
  guarded("emergency:control"),
  { 200: jsonResponse(NotificationSchema, "Retracted") },
  [400, 401, 403, 404, 409, 413, 415, 429, 500],
  { request: { params: z.object({ id: z.coerce.number().int().min(1) }), body: jsonBody(FactorOnly) } },
);

async function toggle(
  c: Context<AppEnv>,
  control: EmergencyControl,
  input: { active: boolean; reason: string; totpCode?: string; recoveryCode?: string },
) {
  const action = `emergency.${control}`;
  await requireSecondFactor(c, action, input);
  const actor = principalOf(c).userId;
  const { before, after } = await callAdmin(c.env, "setEmergency", (stub) => stub.setEmergency(control, input.active, actor, input.reason));
  invalidateEmergencyCache();
  await auditAdmin(c, {
    action,
    outcome: "success",
    targetId: control,
    details: { active: input.active, reason: input.reason },
    before,
    after,
  });
  const state = await callAdmin(c.env, "emergency", (stub) => stub.emergency());
  return {
    lockdown: flagJson(state.lockdown),
    recordings_halted: flagJson(state.recordings_halted),
    sessions_shutdown: flagJson(state.sessions_shutdown),
    lockdownMessage: state.lockdownMessage,
  };
}

export const emergencyApp = createApp()
  .openapi(getState, async (c) => {
    const state = await callAdmin(c.env, "emergency", (stub) => stub.emergency());
    return c.json(
      {
        lockdown: flagJson(state.lockdown),
        recordings_halted: flagJson(state.recordings_halted),
        sessions_shutdown: flagJson(state.sessions_shutdown),
        lockdownMessage: state.lockdownMessage,
      },
      200,
    );
  })
  .openapi(lockdown, async (c) => c.json(await toggle(c, "lockdown", c.req.valid("json")), 200))
  .openapi(sessionsShutdown, async (c) => c.json(await toggle(c, "sessions_shutdown", c.req.valid("json")), 200))
  .openapi(recordings, async (c) => {
    const input = c.req.valid("json");
    const state = await toggle(c, "recordings_halted", input);
    const stopped = input.active && input.stopActive ? await stopActiveRecordings(c) : [];
    if (stopped.length)
      await auditAdmin(c, {
        action: "emergency.recordings_stopped",
        outcome: "success",
        targetId: "sessions",
        details: { sessions: stopped.map((s) => `${s.sessionId}:${s.outcome}`) },
      });
    return c.json({ ...state, stopped }, 200);
  })
  .openapi(broadcast, async (c) => {
    const { totpCode, recoveryCode, ...notification } = c.req.valid("json");
    await requireSecondFactor(c, "emergency.notification", { totpCode, recoveryCode });
    const message = await callAdmin(c.env, "broadcast", (stub) => stub.broadcast(notification, principalOf(c).userId));
    await auditAdmin(c, { action: "emergency.notification", outcome: "success", targetId: `notification:${message.id}`, after: message });
    return c.json(message, 201);
  })
  .openapi(retract, async (c) => {
    const { id } = c.req.valid("param");
    await requireSecondFactor(c, "emergency.notification_retract", c.req.valid("json"));
    const { before, after } = unwrap(await callAdmin(c.env, "retract", (stub) => stub.retract(id, principalOf(c).userId)));
    await auditAdmin(c, { action: "emergency.notification_retract", outcome: "success", targetId: `notification:${id}`, before, after });
    return c.json(after, 200);
  });
