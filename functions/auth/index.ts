import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { PUBLIC } from "../../shared/rbac.ts";
import { verifyMessageV2 } from "../../shared/tron/message-signature.ts";
import { audit } from "../audit.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { createApp, problemResponses } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { loginFailed, loginGuard } from "./guard.ts";
import { checkSecondFactor, directory, effectiveRole, issueLogin, signAccessToken, userStub } from "./login.ts";
import { magicLinkApp, outboxApp } from "./magic-link.ts";
import {
  ChallengeRequest,
  ChallengeResponse,
  RefreshRequest,
  SessionIdParam,
  SessionSchema,
  TokenResponse,
  VerifyRequest,
} from "./schemas.ts";
import { totpApp } from "./totp.ts";
import { objectNamed } from "../../platform/objects.ts";

const json = <T>(schema: T) => ({ "application/json": { schema } });

function addressGuardKey(address: string) {
  return `addr:${address}`;
}

/**
 * The text the wallet signs: bound to the configured PUBLIC_ORIGIN (its host as the domain, the
 * origin as the URI; never the request's Host), single-use, short-lived (in the spirit of EIP-4361).
 */
function challengeMessage(origin: string, address: string, nonce: string, issuedAt: Date, expiresAt: Date): string {
  return [
    `${new URL(origin).host} wants you to sign in to Lucid with your TRON account:`,
    address,
    "",
    `URI: ${origin}`,
    `Nonce: ${nonce}`,
    `Issued At: ${issuedAt.toISOString()}`,
    `Expiration Time: ${expiresAt.toISOString()}`,
  ].join("\n");
}

const challenge = createRoute({
  method: "post",
  path: "/challenge",
  tags: ["auth"],
  summary:
    "Get a single-use message to sign with the TRON wallet (TIP-191 signMessageV2), valid 5 minutes; each request opens its own challenge and never voids another",
  ...guarded(PUBLIC),
  request: { body: { required: true, content: json(ChallengeRequest) } },
  responses: { 200: { description: "Challenge", content: json(ChallengeResponse) }, ...problemResponses(400, 413, 415, 429, 500) },
});

const verify = createRoute({
  method: "post",
  path: "/verify",
  tags: ["auth"],
  summary: "Answer one challenge (named by its nonce) with its signature (plus TOTP for ADMIN+) and receive tokens",
  ...guarded(PUBLIC),
  request: { body: { required: true, content: json(VerifyRequest) } },
  responses: { 200: { description: "Tokens", content: json(TokenResponse) }, ...problemResponses(400, 401, 413, 415, 429, 500) },
});

const refresh = createRoute({
  method: "post",
  path: "/refresh",
  tags: ["auth"],
  summary: "Rotate a refresh token; a reused one revokes its whole session",
  ...guarded(PUBLIC),
  request: { body: { required: true, content: json(RefreshRequest) } },
  responses: { 200: { description: "New tokens", content: json(TokenResponse) }, ...problemResponses(400, 401, 413, 415, 429, 500) },
});

const logout = createRoute({
  method: "post",
  path: "/logout",
  tags: ["auth"],
  summary: "End the session the access token belongs to (its refresh tokens stop working)",
  ...guarded("sessions:manage:own"),
  responses: { 204: { description: "Logged out" }, ...problemResponses(401, 403, 429, 500) },
});

const listSessions = createRoute({
  method: "get",
  path: "/sessions",
  tags: ["auth"],
  summary: "The caller's active login sessions",
  ...guarded("sessions:manage:own"),
  responses: {
    200: { description: "Sessions, oldest first", content: json(z.object({ sessions: z.array(SessionSchema) })) },
    ...problemResponses(401, 403, 429, 500),
  },
});

const revokeSession = createRoute({
  method: "delete",
  path: "/sessions/{id}",
  tags: ["auth"],
  summary: "Revoke one of the caller's sessions",
  ...guarded("sessions:manage:own"),
  request: { params: SessionIdParam },
  responses: { 204: { description: "Revoked" }, ...problemResponses(400, 401, 403, 404, 429, 500) },
});

function requestFacts(c: Context<AppEnv>) {
  return { ip: clientAddress(c), requestId: c.get("requestId") };
}

export const authApp = createApp()
  .openapi(challenge, async (c) => {
    const { address } = c.req.valid("json");
    const config = c.get("config");
    await loginGuard(c, addressGuardKey(address)).assertOpen();
    const nonce = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const issuedAt = new Date();
    const expiresAt = new Date(issuedAt.getTime() + config.LOGIN_CHALLENGE_TTL_SECONDS * 1000);
    const origin = config.PUBLIC_ORIGIN;
    const domain = new URL(origin).host;
    const message = challengeMessage(origin, address, nonce, issuedAt, expiresAt);
    const stub = objectNamed(c.env, "LOGIN_GUARD", addressGuardKey(address));
    await callDurableObject("LoginGuardDO", "putChallenge", () => stub.putChallenge(nonce, message, expiresAt.getTime()));
    return c.json(
      { address, domain, uri: origin, nonce, issuedAt: issuedAt.toISOString(), expiresAt: expiresAt.toISOString(), message },
      200,
    );
  })
  .openapi(verify, async (c) => {
    const body = c.req.valid("json");
    const config = c.get("config");
    const guard = loginGuard(c, addressGuardKey(body.address));
    await guard.assertOpen();
    const stub = objectNamed(c.env, "LOGIN_GUARD", addressGuardKey(body.address));
    // Taken (deleted) before checking: a challenge is answered at most once, right or wrong.
    // Only the named one: the address's other outstanding challenges stay answerable.
    const outstanding = await callDurableObject("LoginGuardDO", "takeChallenge", () => stub.takeChallenge(body.nonce));
    const reason = !outstanding
      ? "no-challenge"
      : outstanding.expired
        ? "expired"
        : !verifyMessageV2(outstanding.message, body.signature, body.address)
          ? "bad-signature"
          : null;
    if (reason) {
      await guard.fail();
      await audit(c.env, {
        action: "auth.login",
        outcome: "failure",
        ...requestFacts(c),
        details: { method: "tron", address: body.address, reason },
      });
      throw loginFailed();
    }
    const bootstrap = config.BOOTSTRAP_SUPER_ADMIN_ADDRESS === body.address;
    const { user, created } = await callDurableObject("UserIndexDO", "findOrCreateByAddress", () =>
      directory(c).findOrCreateByAddress(body.address, bootstrap),
    );
    if (created) {
      await audit(c.env, {
        action: "users.create",
        outcome: "success",
        actorId: user.id,
        targetId: user.id,
        ...requestFacts(c),
        details: { tronAddress: user.tronAddress, role: user.role },
      });
    }
    const secondFactor = await checkSecondFactor(c, user, body, guard);
    await guard.succeed();
    return c.json(await issueLogin(c, user, { method: "tron", walletKind: body.walletKind ?? null, secondFactor }), 200);
  })
  .openapi(refresh, async (c) => {
    const { refreshToken } = c.req.valid("json");
    const config = c.get("config");
    const [userId, secret] = refreshToken.split(".") as [string, string];
    const result = await callDurableObject(
      "UserDO",
      "refresh",
      async () => await userStub(c, userId).refresh(secret, config.REFRESH_TOKEN_TTL_SECONDS * 1000),
    );
    if (!result.ok) {
      if (result.reason === "reused") {
        await audit(c.env, {
          action: "auth.refresh_reuse",
          outcome: "failure",
          targetId: userId,
          ...requestFacts(c),
          details: { revoked: "session" },
        });
      } else {
        await audit(c.env, {
          action: "auth.refresh",
          outcome: "failure",
          targetId: userId,
          ...requestFacts(c),
          details: { reason: result.reason },
        });
      }
      throw new ApiError(
        "unauthorized",
        "The refresh token is invalid, expired, revoked or already used.",
        {},
        { "WWW-Authenticate": 'Bearer realm="lucid", error="invalid_token"' },
      );
    }
    const user = await callDurableObject("UserIndexDO", "get", () => directory(c).get(userId));
    if (!user) throw new ApiError("unauthorized", "The account no longer exists.");
    const role = effectiveRole(user.role, result.secondFactor);
    await audit(c.env, {
      action: "auth.refresh",
      outcome: "success",
      actorId: user.id,
      targetId: user.id,
      ...requestFacts(c),
      details: { sessionId: result.sessionId },
    });
    return c.json(
      {
        tokenType: "Bearer" as const,
        accessToken: await signAccessToken(c, user.id, role, result.sessionId),
        expiresIn: config.ACCESS_TOKEN_TTL_SECONDS,
        refreshToken: `${user.id}.${result.secret}`,
        refreshExpiresAt: new Date(result.expiresAt).toISOString(),
        sessionId: result.sessionId,
        user: { id: user.id, role: user.role, tronAddress: user.tronAddress },
        effectiveRole: role,
        secondFactor: result.secondFactor
          ? ("passed" as const)
          : role === user.role
            ? ("not-required" as const)
            : ("enrolment-required" as const),
      },
      200,
    );
  })
  .openapi(logout, async (c) => {
    const principal = principalOf(c);
    if (principal.sessionId) {
      const sessionId = principal.sessionId;
      await callDurableObject("UserDO", "revokeSession", () => userStub(c, principal.userId).revokeSession(sessionId, "logout"));
      await audit(c.env, {
        action: "auth.logout",
        outcome: "success",
        actorId: principal.userId,
        targetId: principal.userId,
        ...requestFacts(c),
        details: { sessionId },
      });
    }
    return c.body(null, 204);
  })
  .openapi(listSessions, async (c) => {
    const principal = principalOf(c);
    const sessions = await callDurableObject("UserDO", "listSessions", () => userStub(c, principal.userId).listSessions());
    const iso = (ms: number) => new Date(ms).toISOString();
    return c.json(
      {
        sessions: sessions.map((s) => ({
          ...s,
          createdAt: iso(s.createdAt),
          lastUsedAt: iso(s.lastUsedAt),
          expiresAt: iso(s.expiresAt),
          current: s.id === principal.sessionId,
        })),
      },
      200,
    );
  })
  .openapi(revokeSession, async (c) => {
    const principal = principalOf(c);
    const { id } = c.req.valid("param");
    // Looked up only in the caller's own UserDO: another user's session id is simply not found.
    const revoked = await callDurableObject("UserDO", "revokeSession", () =>
      userStub(c, principal.userId).revokeSession(id, "revoked-by-user"),
    );
    if (!revoked) throw new ApiError("not-found", `You have no active session ${id}.`);
    await audit(c.env, {
      action: "auth.session_revoke",
      outcome: "success",
      actorId: principal.userId,
      targetId: principal.userId,
      ...requestFacts(c),
      details: { sessionId: id },
    });
    return c.body(null, 204);
  })
  .route("/totp", totpApp)
  .route("/magic-link", magicLinkApp)
  .route("/outbox", outboxApp);
