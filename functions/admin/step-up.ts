import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { logEvent } from "../../shared/log.ts";
import { userStub } from "../auth/login.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { raiseAlert } from "./alerts.ts";
import { auditAdmin } from "./context.ts";
import { objectNamed } from "../../platform/objects.ts";

/** The second factor every emergency request carries: a current TOTP code or a recovery code. */
export const SecondFactorFields = {
  totpCode: z
    .string()
    .regex(/^\d{6}$/, "must be 6 digits")
    .optional(),
  recoveryCode: z.string().min(8).max(64).optional(),
};

export const oneSecondFactor = <T extends { totpCode?: string; recoveryCode?: string }>(body: T) =>
  (body.totpCode === undefined) !== (body.recoveryCode === undefined);
export const ONE_FACTOR_MESSAGE = { message: "send exactly one of totpCode or recoveryCode", path: ["totpCode"] };

/**
 * Step-up for privileged actions (emergency controls, hot-wallet key export): the caller's own
 * enrolled TOTP (each code usable once) or a recovery code, checked by their UserDO at the
 * moment of the request. A valid ADMIN token alone is not enough. A wrong code is audited and
 * refused with 403 second-factor-required; wrong codes count per user in a LoginGuardDO
 * (`step-up:<user id>`) as failed logins do: after STEP_UP_MAX_FAILURES of them every further
 * attempt is refused with 429 step-up-throttled and Retry-After, before any code is looked at,
 * for STEP_UP_BACKOFF_SECONDS doubling up to STEP_UP_BACKOFF_MAX_SECONDS, and an alert is raised.
 */
export async function requireSecondFactor(
  c: Context<AppEnv>,
  action: string,
  factor: { totpCode?: string; recoveryCode?: string },
  targetId = "emergency",
): Promise<"totp" | "recovery-code"> {
  const principal = principalOf(c);
  const guard = stepUpGuard(c, principal.userId);
  const lockedUntil = await callDurableObject("LoginGuardDO", "lockedUntil", () => guard.lockedUntil());
  if (lockedUntil > 0) {
    await auditAdmin(c, { action, outcome: "failure", targetId, details: { reason: "step-up-throttled" } });
    throw throttled(lockedUntil);
  }
  const presented = factor.totpCode !== undefined ? { code: factor.totpCode } : { recoveryCode: factor.recoveryCode! };
  const result = await callDurableObject(
    "UserDO",
    "verifySecondFactor",
    async () => await userStub(c, principal.userId).verifySecondFactor(presented),
  );
  if (result.ok) {
    await callDurableObject("LoginGuardDO", "recordSuccess", () => guard.recordSuccess());
    return result.via;
  }
  await auditAdmin(c, {
    action,
    outcome: "failure",
    targetId,
    details: { reason: result.reason === "not-enrolled" ? "totp-not-enrolled" : "bad-second-factor" },
  });
  if (result.reason === "not-enrolled") {
    throw new ApiError("second-factor-required", "This action needs TOTP: enrol at /api/v1/auth/totp/enrol first.", {
      secondFactor: "required",
    });
  }
  const config = c.get("config");
  const failed = await callDurableObject("LoginGuardDO", "recordFailure", () =>
    guard.recordFailure({
      freeFailures: config.STEP_UP_MAX_FAILURES - 1,
      baseSeconds: config.STEP_UP_BACKOFF_SECONDS,
      maxSeconds: config.STEP_UP_BACKOFF_MAX_SECONDS,
    }),
  );
  if (failed.lockedUntil > 0) await alertLockout(c, principal.userId, action, failed.failures);
  throw new ApiError("second-factor-required", "The TOTP or recovery code is wrong or was already used.", { secondFactor: "required" });
}

/**
 * requireSecondFactor() for a route where only some requests need the factor (a role change
 * that touches ADMIN, …), so its body cannot insist on one: sending none is refused with 403
 * second-factor-required and audited (not counted as a wrong guess); both is a 400 by the schema.
 */
export async function requirePresentedSecondFactor(
  c: Context<AppEnv>,
  action: string,
  factor: { totpCode?: string; recoveryCode?: string },
  targetId: string,
): Promise<"totp" | "recovery-code"> {
  if (factor.totpCode === undefined && factor.recoveryCode === undefined) {
    await auditAdmin(c, { action, outcome: "failure", targetId, details: { reason: "second-factor-missing" } });
    throw new ApiError("second-factor-required", "This action needs a current TOTP code (totpCode) or a recovery code (recoveryCode).", {
      secondFactor: "required",
    });
  }
  return await requireSecondFactor(c, action, factor, targetId);
}

/** Body refinement for routes where the factor is optional: never both. */
export const atMostOneSecondFactor = <T extends { totpCode?: string; recoveryCode?: string }>(body: T) =>
  body.totpCode === undefined || body.recoveryCode === undefined;
export const AT_MOST_ONE_FACTOR_MESSAGE = { message: "send at most one of totpCode or recoveryCode", path: ["totpCode"] };

function stepUpGuard(c: Context<AppEnv>, userId: string) {
  return objectNamed(c.env, "LOGIN_GUARD", `step-up:${userId}`);
}

/** Someone holding an admin's token is guessing codes: every admin sees it (one alert per user, counting up). */
async function alertLockout(c: Context<AppEnv>, userId: string, action: string, failures: number): Promise<void> {
  try {
    await raiseAlert(c.env, {
      key: `step-up:${userId}`,
      severity: "critical",
      source: "step-up",
      title: "Repeated wrong step-up codes: privileged actions throttled for this user",
      detail: `User ${userId} sent ${failures} wrong TOTP/recovery codes in a row (last for ${action}); their token may be in other hands.`,
    });
  } catch (error) {
    // The throttle holds without the alert; the audit log has every attempt.
    logEvent("error", "step_up.alert_failed", { userId, error: String(error) });
  }
}

function throttled(lockedUntil: number): ApiError {
  const retryAfter = Math.max(1, Math.ceil((lockedUntil - Date.now()) / 1000));
  return new ApiError(
    "step-up-throttled",
    `Too many wrong step-up codes; retry in ${retryAfter} s.`,
    { retryAfter },
    { "Retry-After": String(retryAfter) },
  );
}
