import type { Context } from "hono";
import { z } from "zod";
import { ApiError } from "../../shared/errors.ts";
import { logEvent } from "../../shared/log.ts";
import { directory } from "../auth/login.ts";
import { mailerFor, type Mail } from "../auth/mailer.ts";
import { callDurableObject } from "../do-call.ts";
import { keyringFor } from "../middleware/jwt-keyring.ts";
import type { AppEnv } from "../types.ts";
import { objectNamed } from "../../platform/objects.ts";

/** How long a confirmation token works. */
const CONFIRM_TTL_SECONDS = 3600;

const ConfirmClaims = z.object({ sub: z.string(), email: z.string(), typ: z.literal("email-change"), exp: z.number() });

/**
 * A new email is not set when asked for: a token is mailed to it, and the address becomes the
 * account's when its holder sends the token back (POST /users/me/email/confirm). If the address
 * already belongs to another account, that address is told someone tried to use it instead.
 * Either way the caller gets the same answer after the same work, so PATCH /users/me says
 * nothing about which addresses are registered. A mailbox gets at most the login guard's
 * allowance of these mails (the `mail:<address>` key magic links use), so it cannot be flooded.
 */
export async function requestEmailChange(c: Context<AppEnv>, userId: string, email: string): Promise<void> {
  const config = c.get("config");
  const mailer = mailerFor(c.env, config);
  if (!mailer) throw new ApiError("service-unavailable", "Email addresses cannot be changed on this server: no mailer is configured.");
  const address = email.toLowerCase();
  const flood = objectNamed(c.env, "LOGIN_GUARD", `mail:${address}`);
  const throttled = (await callDurableObject("LoginGuardDO", "lockedUntil", () => flood.lockedUntil())) > 0;
  if (!throttled) {
    await callDurableObject("LoginGuardDO", "recordFailure", () =>
      flood.recordFailure({ freeFailures: config.LOGIN_FAILURES_BEFORE_BACKOFF, maxSeconds: config.LOGIN_BACKOFF_MAX_SECONDS }),
    );
  }
  const owner = await callDurableObject("UserIndexDO", "findByEmail", () => directory(c).findByEmail(address));
  if (throttled) return;
  let mail: Mail;
  if (owner && owner.id !== userId) {
    mail = {
      to: address,
      subject: "Someone tried to use this address on Lucid",
      text:
        "Someone asked to add this address to another Lucid account. It already belongs to your account, so nothing was changed.\n\n" +
        "If it was you, sign in to the account that has this address instead. Otherwise there is nothing to do.",
    };
  } else {
    const now = Math.floor(Date.now() / 1000);
    const token = await (
      await keyringFor(config)
    ).sign({ sub: userId, email: address, typ: "email-change", iat: now, exp: now + CONFIRM_TTL_SECONDS });
    mail = {
      to: address,
      subject: "Confirm your email address for Lucid",
      text:
        `Someone (we hope you) asked to use this address for their Lucid account. To confirm, send this token within ${CONFIRM_TTL_SECONDS / 60} minutes, ` +
        `signed in to that account, as {"token": "…"} to POST /api/v1/users/me/email/confirm:\n\n${token}\n\nIf you did not ask for it, ignore this mail.`,
    };
  }
  const send = mailer
    .send(mail)
    .catch((error: unknown) => logEvent("error", "users.email_change.send_failed", { mailer: mailer.kind, error: String(error) }));
  // Sent after the answer, so its timing says nothing either.
  c.executionCtx.waitUntil(send);
}

/** The address a confirmation token names for `userId`, or 400 for a bad, expired or foreign token. */
export async function confirmedEmail(c: Context<AppEnv>, userId: string, token: string): Promise<string> {
  const refuse = () => new ApiError("bad-request", "The confirmation token is invalid, expired or for another account.");
  let payload: unknown;
  try {
    payload = await (await keyringFor(c.get("config"))).verify(token);
  } catch {
    throw refuse();
  }
  const claims = ConfirmClaims.safeParse(payload);
  if (!claims.success || claims.data.sub !== userId) throw refuse();
  return claims.data.email;
}
