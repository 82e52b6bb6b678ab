import type { MiddlewareHandler } from "hono";
import type { EmergencySnapshot } from "../../shared/admin.ts";
import type { Env } from "../../platform/env.ts";
import { ApiError } from "../../shared/errors.ts";
import { can } from "../../shared/rbac.ts";
import { callDurableObject } from "../do-call.ts";
import { isChunkUpload } from "../sessions/ingest.ts";
import type { AppEnv } from "../types.ts";
import { singleton } from "../../platform/objects.ts";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Logging in (and out) stays open, or no admin could get in to lift a lockdown. */
const ALWAYS_OPEN = /^\/api\/v1\/auth\//;
const SESSION_CREATE = /^\/api\/v1\/sessions\/?$/;
const SESSION_START = /^\/api\/v1\/sessions\/[^/]+\/start\/?$/;

// Per isolate: the flags are read from AdminDO at most once per EMERGENCY_CACHE_MS, and only by writes.
let cached: { snapshot: EmergencySnapshot; until: number } | undefined;

/** Forgets the cached flags (the admin routes call this after a change, so it applies here at once). */
export function invalidateEmergencyCache(): void {
  cached = undefined;
}

async function emergencyFlags(env: Env, ttlMs: number): Promise<EmergencySnapshot> {
  const now = Date.now();
  if (cached && cached.until > now) return cached.snapshot;
  const snapshot = await callDurableObject("AdminDO", "emergency", () => singleton(env, "ADMIN").emergency());
  cached = { snapshot, until: now + ttlMs };
  return snapshot;
}

const since = (at: number | null) => (at === null ? null : new Date(at).toISOString());

/**
 * Emergency controls at the gateway (after authentication): during a lockdown every write
 * (non-GET) of a caller below ADMIN is refused with 503 `lockdown`, reads continue; a
 * sessions shutdown refuses creating sessions; halted recordings refuse starting a session and
 * uploading chunks. Other isolates see a change within EMERGENCY_CACHE_MS.
 */
export function emergencyGate(): MiddlewareHandler<AppEnv> {
  return async function emergencyGateMiddleware(c, next) {
    const method = c.req.method;
    const path = c.req.path;
    if (READS.has(method) || ALWAYS_OPEN.test(path)) return next();
    const flags = await emergencyFlags(c.env, c.get("config").EMERGENCY_CACHE_MS);
    const principal = c.get("principal");
    // Those who control the emergency switches (ADMIN+) still write during a lockdown.
    const passesLockdown = principal !== undefined && can(principal.role, "emergency:control");
    if (flags.lockdown.active && !passesLockdown) {
      throw new ApiError(
        "lockdown",
        flags.lockdownMessage,
        { reason: flags.lockdown.reason, since: since(flags.lockdown.changedAt) },
        { "Retry-After": "60" },
      );
    }
    if (flags.sessions_shutdown.active && method === "POST" && SESSION_CREATE.test(path)) {
      throw new ApiError(
        "sessions-shutdown",
        "New sessions are shut down by an administrator.",
        { reason: flags.sessions_shutdown.reason, since: since(flags.sessions_shutdown.changedAt) },
        { "Retry-After": "60" },
      );
    }
    if (flags.recordings_halted.active && ((method === "POST" && SESSION_START.test(path)) || isChunkUpload(method, path))) {
      throw new ApiError(
        "recordings-halted",
        "Recordings are halted by an administrator; keep the data and retry later.",
        { reason: flags.recordings_halted.reason, since: since(flags.recordings_halted.changedAt) },
        { "Retry-After": "60" },
      );
    }
    await next();
  };
}
