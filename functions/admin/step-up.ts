import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { userStub } from "../auth/login.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { auditAdmin } from "./context.ts";

/** The second factor every emergency request carries: a current TOTP code or a recovery code. */
export const SecondFactorFields = {
  totpCode: z.string().regex(/^\d{6}$/, "must be 6 digits").optional(),
  recoveryCode: z.string().min(8).max(64).optional(),
};

export const oneSecondFactor = <T extends { totpCode?: string; recoveryCode?: string }>(body: T) =>
  (body.totpCode === undefined) !== (body.recoveryCode === undefined);
export const ONE_FACTOR_MESSAGE = { message: "send exactly one of totpCode or recoveryCode", path: ["totpCode"] };

/**
 * Step-up for emergency controls: the caller's own enrolled TOTP (each code usable once) or a
 * recovery code, checked by their UserDO at the moment of the request. A valid ADMIN token alone
 * is not enough. A wrong code is audited and refused with 403 second-factor-required.
 */
export async function requireSecondFactor(c: Context<AppEnv>, action: string, factor: { totpCode?: string; recoveryCode?: string }): Promise<void> {
  const principal = principalOf(c);
  const presented = factor.totpCode !== undefined ? { code: factor.totpCode } : { recoveryCode: factor.recoveryCode! };
  const result = await callDurableObject("UserDO", "verifySecondFactor", async () => await userStub(c, principal.userId).verifySecondFactor(presented));
  if (result.ok) return;
  await auditAdmin(c, { action, outcome: "failure", targetId: "emergency", details: { reason: result.reason === "not-enrolled" ? "totp-not-enrolled" : "bad-second-factor" } });
  throw new ApiError(
    "second-factor-required",
    result.reason === "not-enrolled"
      ? "Emergency controls need TOTP: enrol at /api/v1/auth/totp/enrol first."
      : "The TOTP or recovery code is wrong or was already used.",
    { secondFactor: "required" },
  );
}
