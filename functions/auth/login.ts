import type { Context } from "hono";
import type { UserRecord } from "../../durable-objects/user-index/index.ts";
import { ApiError } from "../../shared/errors.ts";
import { needsSecondFactor, type Role } from "../../shared/rbac.ts";
import { audit } from "../audit.ts";
import { callDurableObject } from "../do-call.ts";
import { keyringFor } from "../middleware/jwt-keyring.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import type { AppEnv } from "../types.ts";
import type { loginGuard } from "./guard.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

export type SecondFactorOutcome = "passed" | "not-required" | "enrolment-required";

export function userStub(c: Context<AppEnv>, userId: string) {
  return objectNamed(c.env, "USERS", userId);
}

export function directory(c: Context<AppEnv>) {
  return singleton(c.env, "USER_INDEX");
}

/** ADMIN+ powers need a session that passed TOTP; without it the tokens carry USER. */
export function effectiveRole(role: Role, secondFactorPassed: boolean): Role {
  return needsSecondFactor(role) && !secondFactorPassed ? "USER" : role;
}

/**
 * TOTP for ADMIN and SUPER_ADMIN: enrolled accounts must present a code (or a recovery code);
 * accounts not yet enrolled log in with USER powers until they enrol. A wrong code counts as
 * a failed login.
 */
export async function checkSecondFactor(
  c: Context<AppEnv>,
  user: UserRecord,
  factor: { totpCode?: string; recoveryCode?: string },
  guard: ReturnType<typeof loginGuard>,
): Promise<SecondFactorOutcome> {
  if (!needsSecondFactor(user.role)) return "not-required";
  const stub = userStub(c, user.id);
  const status = await callDurableObject("UserDO", "totpStatus", () => stub.totpStatus());
  if (!status.enrolled) return "enrolment-required";
  const presented =
    factor.totpCode !== undefined
      ? { code: factor.totpCode }
      : factor.recoveryCode !== undefined
        ? { recoveryCode: factor.recoveryCode }
        : null;
  if (!presented) {
    throw new ApiError(
      "unauthorized",
      "This account needs a TOTP code (totpCode) or a recovery code; sign a new challenge and send it along.",
      {
        secondFactor: "required",
      },
    );
  }
  const result = await callDurableObject("UserDO", "verifySecondFactor", async () => await stub.verifySecondFactor(presented));
  if (!result.ok) {
    await guard.fail();
    await audit(c.env, {
      action: "auth.second_factor",
      outcome: "failure",
      actorId: user.id,
      targetId: user.id,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
    });
    throw new ApiError("unauthorized", "The TOTP or recovery code is wrong or was already used.", { secondFactor: "required" });
  }
  return "passed";
}

export async function signAccessToken(c: Context<AppEnv>, userId: string, role: Role, sessionId: string) {
  const config = c.get("config");
  const now = Math.floor(Date.now() / 1000);
  const keyring = await keyringFor(config);
  return keyring.sign({ sub: userId, role, sid: sessionId, typ: "access", iat: now, exp: now + config.ACCESS_TOKEN_TTL_SECONDS });
}

/** Opens a session (refresh-token family) and issues the token pair. */
export async function issueLogin(
  c: Context<AppEnv>,
  user: UserRecord,
  options: { method: "tron" | "magic-link"; walletKind: string | null; secondFactor: SecondFactorOutcome },
) {
  const config = c.get("config");
  const stub = userStub(c, user.id);
  const session = await callDurableObject("UserDO", "openSession", () =>
    stub.openSession({
      method: options.method,
      walletKind: options.walletKind,
      secondFactor: options.secondFactor === "passed",
      ip: clientAddress(c),
      userAgent: c.req.header("User-Agent")?.slice(0, 256) ?? null,
      ttlMs: config.REFRESH_TOKEN_TTL_SECONDS * 1000,
      maxSessions: config.MAX_SESSIONS_PER_USER,
    }),
  );
  const role = effectiveRole(user.role, options.secondFactor === "passed");
  await audit(c.env, {
    action: "auth.login",
    outcome: "success",
    actorId: user.id,
    targetId: user.id,
    ip: clientAddress(c),
    requestId: c.get("requestId"),
    details: {
      method: options.method,
      walletKind: options.walletKind,
      secondFactor: options.secondFactor,
      sessionId: session.sessionId,
      evictedSessions: session.evicted,
    },
  });
  return {
    tokenType: "Bearer" as const,
    accessToken: await signAccessToken(c, user.id, role, session.sessionId),
    expiresIn: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshToken: `${user.id}.${session.secret}`,
    refreshExpiresAt: new Date(session.expiresAt).toISOString(),
    sessionId: session.sessionId,
    user: { id: user.id, role: user.role, tronAddress: user.tronAddress },
    effectiveRole: role,
    secondFactor: options.secondFactor,
  };
}
