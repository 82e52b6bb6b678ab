import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { otpauthUri } from "../../shared/totp.ts";
import { audit } from "../audit.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { createApp, problemResponses } from "../openapi.ts";
import { directory, userStub } from "./login.ts";
import { requireSecondFactor } from "../admin/step-up.ts";
import { TotpConfirmRequest } from "./schemas.ts";

/** Only a TOTP code: the authenticator itself, so a leaked recovery code cannot mint new ones. */
const RecoveryCodesRequest = z
  .object({ totpCode: z.string().regex(/^\d{6}$/, "must be 6 digits") })
  .strict()
  .openapi("RecoveryCodesRequest");

const json = <T>(schema: T) => ({ "application/json": { schema } });

const status = createRoute({
  method: "get",
  path: "/",
  tags: ["auth"],
  summary: "Whether the caller has TOTP and how many recovery codes are left",
  ...guarded("totp:manage:own"),
  responses: {
    200: { description: "TOTP status", content: json(z.object({ enrolled: z.boolean(), recoveryCodesLeft: z.number().int() })) },
    ...problemResponses(401, 403, 429, 500),
  },
});

const enrol = createRoute({
  method: "post",
  path: "/enrol",
  tags: ["auth"],
  summary: "Start TOTP enrolment: a new secret and its otpauth:// URI (confirm with a first code)",
  ...guarded("totp:manage:own"),
  responses: {
    200: { description: "Secret", content: json(z.object({ secret: z.string(), otpauthUri: z.string() }).openapi("TotpEnrolment")) },
    ...problemResponses(401, 403, 409, 429, 500),
  },
});

const confirm = createRoute({
  method: "post",
  path: "/confirm",
  tags: ["auth"],
  summary: "Confirm enrolment with a current code; returns one-time recovery codes (shown once)",
  ...guarded("totp:manage:own"),
  request: { body: { required: true, content: json(TotpConfirmRequest) } },
  responses: {
    200: { description: "Enrolled", content: json(z.object({ recoveryCodes: z.array(z.string()) })) },
    ...problemResponses(400, 401, 403, 409, 413, 415, 429, 500),
  },
});

const regenerate = createRoute({
  method: "post",
  path: "/recovery-codes",
  tags: ["auth"],
  summary:
    "Replace the caller's recovery codes with 10 fresh ones (shown once; every earlier code stops working); needs a current TOTP code, not a recovery code",
  ...guarded("totp:manage:own"),
  request: { body: { required: true, content: json(RecoveryCodesRequest) } },
  responses: {
    200: { description: "New recovery codes", content: json(z.object({ recoveryCodes: z.array(z.string()) })) },
    ...problemResponses(400, 401, 403, 413, 415, 429, 500),
  },
});

export const totpApp = createApp()
  .openapi(status, async (c) => {
    const principal = principalOf(c);
    return c.json(await callDurableObject("UserDO", "totpStatus", () => userStub(c, principal.userId).totpStatus()), 200);
  })
  .openapi(enrol, async (c) => {
    const principal = principalOf(c);
    const result = await callDurableObject(
      "UserDO",
      "beginTotpEnrolment",
      async () => await userStub(c, principal.userId).beginTotpEnrolment(),
    );
    if (!result.ok) throw new ApiError("conflict", "TOTP is already enrolled for this account.");
    const user = await callDurableObject("UserIndexDO", "get", () => directory(c).get(principal.userId));
    const account = user?.tronAddress ?? user?.email ?? principal.userId;
    return c.json({ secret: result.secret, otpauthUri: otpauthUri(c.get("config").TOTP_ISSUER, account, result.secret) }, 200);
  })
  .openapi(confirm, async (c) => {
    const principal = principalOf(c);
    const { code } = c.req.valid("json");
    const result = await callDurableObject("UserDO", "confirmTotp", async () => await userStub(c, principal.userId).confirmTotp(code));
    if (!result.ok) {
      if (result.reason === "invalid-code")
        throw new ApiError("validation-failed", "The code does not match the enrolment secret.", {
          errors: [{ location: "body", path: "code", message: "wrong code" }],
        });
      throw new ApiError(
        "conflict",
        result.reason === "not-started" ? "Start with POST /api/v1/auth/totp/enrol." : "TOTP is already enrolled.",
      );
    }
    await audit(c.env, {
      action: "auth.totp_enrol",
      outcome: "success",
      actorId: principal.userId,
      targetId: principal.userId,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
    });
    return c.json({ recoveryCodes: result.recoveryCodes }, 200);
  })
  .openapi(regenerate, async (c) => {
    const principal = principalOf(c);
    const { totpCode } = c.req.valid("json");
    // The step-up check: the code is spent, wrong ones are audited and throttled per user with an alert.
    await requireSecondFactor(c, "auth.recovery_codes_regenerate", { totpCode }, principal.userId);
    const result = await callDurableObject(
      "UserDO",
      "regenerateRecoveryCodes",
      async () => await userStub(c, principal.userId).regenerateRecoveryCodes(),
    );
    if (!result.ok) throw new ApiError("conflict", "TOTP is not enrolled for this account.");
    await audit(c.env, {
      action: "auth.recovery_codes_regenerate",
      outcome: "success",
      actorId: principal.userId,
      targetId: principal.userId,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: { codes: result.recoveryCodes.length },
    });
    return c.json({ recoveryCodes: result.recoveryCodes }, 200);
  });
