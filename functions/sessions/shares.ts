import { z } from "@hono/zod-openapi";
import { can } from "../../shared/rbac.ts";
import { ApiError } from "../../shared/errors.ts";
import { oneSecondFactor, ONE_FACTOR_MESSAGE, requireSecondFactor, SecondFactorFields } from "../admin/step-up.ts";
import { audit } from "../audit.ts";
import { guarded } from "../middleware/authorize.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { currentPrincipal } from "../middleware/standing.ts";
import { createApp, jsonBody, jsonResponse, routesTagged } from "../openapi.ts";
import type { ShareView } from "../../durable-objects/session/shares.ts";
import { callSession, sessionStub, userActorOf } from "./context.ts";
import { SessionIdParam } from "./schemas.ts";

const route = routesTagged("sessions");

const ShareBody = z
  .object({
    label: z.string().trim().min(1).max(200).openapi({ description: "who the share is for, e.g. the auditor's name" }),
    recipient: z.discriminatedUnion("kind", [
      z
        .object({
          kind: z.literal("x25519"),
          publicKey: z.string().max(100).openapi({ description: "the recipient's X25519 public key: 64 hex or 44 base64 characters" }),
        })
        .strict(),
      z.object({ kind: z.literal("passphrase"), passphrase: z.string().min(12).max(1024) }).strict(),
    ]),
    ...SecondFactorFields,
  })
  .strict()
  .openapi("KeyShareRequest", {
    description: "An admin sharing another owner's session also sends exactly one of totpCode or recoveryCode (step-up).",
  });

const ShareSchema = z
  .object({
    id: z.string().uuid(),
    label: z.string(),
    recipient: z.enum(["x25519", "passphrase"]),
    fingerprint: z.string().nullable(),
    createdAt: z.string(),
    createdBy: z.string(),
    share: z
      .record(z.string(), z.unknown())
      .openapi({ description: "lucid-key-share v1 (shared/recording/key-share.ts): the data key wrapped for the recipient" }),
  })
  .openapi("KeyShare");

const createShare = route(
  "POST /{id}/shares",
  "Share the recording: wrap its data key for a named recipient (an X25519 public key or a passphrase); owner or admin",
  guarded("sessions:manage:own"),
  { 201: jsonResponse(ShareSchema, "The share") },
  [400, 401, 403, 404, 410, 413, 415, 429, 500],
  {
    description:
      "The server's plaintext key never leaves it: only the wrapped envelope is answered and kept. Every share is audited as " +
      "`sessions.key_shared`. An admin sharing another owner's session needs a fresh second factor (`totpCode` or `recoveryCode`) " +
      'and their current role is checked. See docs/sessions.md, "Sharing a recording".',
    request: { params: SessionIdParam, body: jsonBody(ShareBody) },
  },
);

const listShares = route(
  "GET /{id}/shares",
  "The session's key shares (wrapped envelopes only); owner or admin",
  guarded("sessions:manage:own"),
  { 200: jsonResponse(z.object({ items: z.array(ShareSchema) }), "Shares, newest first") },
  [400, 401, 403, 404, 429, 500],
  { request: { params: SessionIdParam } },
);

const shareJson = (share: ShareView) => ({ ...share, createdAt: new Date(share.createdAt).toISOString() });

/** POST/GET /api/v1/sessions/{id}/shares (durable-objects/session/shares.ts). */
export const shareRoutes = createApp()
  .openapi(createShare, async (c) => {
    const { id } = c.req.valid("param");
    const { totpCode, recoveryCode, ...request } = c.req.valid("json");
    const actor = userActorOf(c);
    const session = await callSession("get", () => sessionStub(c, id).get(actor));
    const onBehalf = session.ownerId !== actor.userId;
    if (onBehalf) {
      // Releasing a key of someone else's recording is a privileged action: current role, fresh step-up.
      const current = await currentPrincipal(c);
      if (!can(current.role, "recordings:manage:any"))
        throw new ApiError("forbidden", `Sharing another owner's recording needs ADMIN; your role is now ${current.role}.`);
      if (!oneSecondFactor({ totpCode, recoveryCode })) {
        throw new ApiError(
          "second-factor-required",
          `Sharing another owner's recording needs a fresh second factor: ${ONE_FACTOR_MESSAGE.message}.`,
          { secondFactor: "required" },
        );
      }
      await requireSecondFactor(c, "sessions.key_shared", { totpCode, recoveryCode }, id);
    }
    const share = await callSession("createShare", () => sessionStub(c, id).createShare(actor, request));
    await audit(c.env, {
      action: "sessions.key_shared",
      outcome: "success",
      actorId: actor.userId,
      targetId: id,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: {
        shareId: share.id,
        label: share.label,
        recipient: share.recipient,
        fingerprint: share.fingerprint,
        onBehalfOfOwner: onBehalf,
      },
    });
    return c.json(shareJson(share), 201, { "Cache-Control": "no-store" });
  })
  .openapi(listShares, async (c) => {
    const { id } = c.req.valid("param");
    const actor = userActorOf(c);
    const shares = await callSession("shares", () => sessionStub(c, id).shares(actor));
    return c.json({ items: shares.map(shareJson) }, 200, { "Cache-Control": "no-store" });
  });
