import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { PUBLIC } from "../../shared/rbac.ts";
import { audit } from "../audit.ts";
import { callDurableObject } from "../do-call.ts";
import { guarded } from "../middleware/authorize.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { logEvent } from "../../shared/log.ts";
import { createApp, problemResponses } from "../openapi.ts";
import { loginFailed, loginGuard } from "./guard.ts";
import { checkSecondFactor, directory, issueLogin, userStub } from "./login.ts";
import { devOutboxEnabled, mailerFor } from "./mailer.ts";
import { MagicLinkRequest, MagicLinkVerifyRequest, TokenResponse } from "./schemas.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

const json = <T>(schema: T) => ({ "application/json": { schema } });

const request = createRoute({
  method: "post",
  path: "/",
  tags: ["auth"],
  summary: "Email a single-use login link (15 min). The answer is the same whether or not the email is registered",
  ...guarded(PUBLIC),
  request: { body: { required: true, content: json(MagicLinkRequest) } },
  responses: {
    202: { description: "Accepted", content: json(z.object({ status: z.literal("accepted") })) },
    ...problemResponses(400, 413, 415, 429, 500, 503),
  },
});

const verify = createRoute({
  method: "post",
  path: "/verify",
  tags: ["auth"],
  summary: "Exchange a magic-link token (plus TOTP for ADMIN+) for tokens",
  ...guarded(PUBLIC),
  request: { body: { required: true, content: json(MagicLinkVerifyRequest) } },
  responses: { 200: { description: "Tokens", content: json(TokenResponse) }, ...problemResponses(400, 401, 413, 415, 429, 500) },
});

export const magicLinkApp = createApp()
  .openapi(request, async (c) => {
    const { email } = c.req.valid("json");
    const config = c.get("config");
    const mailer = mailerFor(c.env, config);
    if (!mailer) throw new ApiError("service-unavailable", "Magic links are not configured on this server (no mailer).");
    // Every request for an address counts against it (same back-off as failed logins), known or not,
    // so a mailbox cannot be flooded and the work done does not depend on whether it is registered.
    const flood = objectNamed(c.env, "LOGIN_GUARD", `mail:${email.toLowerCase()}`);
    const throttled = (await callDurableObject("LoginGuardDO", "lockedUntil", () => flood.lockedUntil())) > 0;
    if (!throttled) {
      await callDurableObject("LoginGuardDO", "recordFailure", () =>
        flood.recordFailure({ freeFailures: config.LOGIN_FAILURES_BEFORE_BACKOFF, maxSeconds: config.LOGIN_BACKOFF_MAX_SECONDS }),
      );
    }
    const user = throttled ? null : await callDurableObject("UserIndexDO", "findByEmail", () => directory(c).findByEmail(email));
    if (user) {
      const link = await callDurableObject("UserDO", "createMagicLink", () =>
        userStub(c, user.id).createMagicLink(config.MAGIC_LINK_TTL_SECONDS * 1000),
      );
      const token = `${user.id}.${link.secret}`;
      // The token travels in the fragment, so it never reaches a server log via the URL. The link
      // names the configured origin: a request's Host never chooses where a login link points.
      const url = `${config.PUBLIC_ORIGIN}/login/magic#token=${token}`;
      const minutes = Math.round(config.MAGIC_LINK_TTL_SECONDS / 60);
      const send = mailer
        .send({
          to: email,
          subject: "Your Lucid login link",
          text: `Log in to Lucid: ${url}\n\nThe link works once, for ${minutes} minutes. If you did not ask for it, ignore this mail.`,
        })
        .catch((error: unknown) => logEvent("error", "auth.magic_link.send_failed", { mailer: mailer.kind, error: String(error) }));
      // Sent after the answer, so its timing says nothing about whether the address exists.
      c.executionCtx.waitUntil(send);
      await audit(c.env, {
        action: "auth.magic_link_request",
        outcome: "success",
        targetId: user.id,
        ip: clientAddress(c),
        requestId: c.get("requestId"),
        details: { mailer: mailer.kind },
      });
    }
    return c.json({ status: "accepted" as const }, 202);
  })
  .openapi(verify, async (c) => {
    const body = c.req.valid("json");
    const [userId, secret] = body.token.split(".") as [string, string];
    const guard = loginGuard(c, `user:${userId}`);
    await guard.assertOpen();
    const consumed = await callDurableObject("UserDO", "consumeMagicLink", () => userStub(c, userId).consumeMagicLink(secret));
    const user = consumed ? await callDurableObject("UserIndexDO", "get", () => directory(c).get(userId)) : null;
    if (!user) {
      await guard.fail();
      await audit(c.env, {
        action: "auth.login",
        outcome: "failure",
        ip: clientAddress(c),
        requestId: c.get("requestId"),
        details: { method: "magic-link", reason: "bad-token" },
      });
      throw loginFailed("The login link is invalid, expired or already used.");
    }
    const secondFactor = await checkSecondFactor(c, user, body, guard);
    await guard.succeed();
    return c.json(await issueLogin(c, user, { method: "magic-link", walletKind: null, secondFactor }), 200);
  });

const outbox = createRoute({
  method: "get",
  path: "/",
  tags: ["auth"],
  summary: "Development outbox: mail the dev mailer kept instead of sending (404 when disabled)",
  ...guarded("mail:outbox:read"),
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }) },
  responses: {
    200: {
      description: "Newest first",
      content: json(
        z.object({
          messages: z.array(z.object({ id: z.number().int(), at: z.string(), to: z.string(), subject: z.string(), text: z.string() })),
        }),
      ),
    },
    ...problemResponses(400, 401, 403, 404, 429, 500),
  },
});

export const outboxApp = createApp().openapi(outbox, async (c) => {
  if (!devOutboxEnabled(c.get("config"))) throw new ApiError("not-found", "The development outbox is disabled (MAIL_DEV_OUTBOX).");
  const { limit } = c.req.valid("query");
  const messages = await callDurableObject("MailOutboxDO", "list", () => singleton(c.env, "MAIL_OUTBOX").list(limit));
  return c.json({ messages: messages.map((m) => ({ ...m, at: new Date(m.at).toISOString() })) }, 200);
});
