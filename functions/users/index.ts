import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { UserRecord } from "../../durable-objects/user-index/index.ts";
import { ApiError } from "../../shared/errors.ts";
import { audit } from "../audit.ts";
import { directory, userStub } from "../auth/login.ts";
import { RoleSchema } from "../auth/schemas.ts";
import { changesAdminAuthority, mayActOn, mayChangeRole } from "../../shared/rbac.ts";
import { AT_MOST_ONE_FACTOR_MESSAGE, atMostOneSecondFactor, requirePresentedSecondFactor, SecondFactorFields } from "../admin/step-up.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { assertOwnerOr, guarded } from "../middleware/authorize.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import { createApp, problemResponses } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { confirmedEmail, requestEmailChange } from "./email-change.ts";

const json = <T>(schema: T) => ({ "application/json": { schema } });

const UserSchema = z
  .object({
    id: z.string(),
    tronAddress: z.string().nullable(),
    email: z.string().nullable(),
    displayName: z.string().nullable(),
    role: RoleSchema,
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("User");

/** PATCH /users/me's answer: the profile, plus the address a confirmation was mailed to, if any. */
const PatchedUserSchema = UserSchema.extend({
  emailConfirmationSentTo: z.string().optional().openapi({
    description: "A new email is set only once confirmed: a token was mailed to this address (POST /users/me/email/confirm)",
  }),
}).openapi("PatchedUser");

/** The only fields a user writes about themselves; `.strict()` refuses anything else (role, id, …). */
const ProfilePatch = z
  .object({
    email: z.string().email().max(254).nullable().optional(),
    displayName: z.string().trim().min(1).max(80).nullable().optional(),
  })
  .strict()
  .openapi("ProfilePatch");

/**
 * A change that touches ADMIN or SUPER_ADMIN also carries the caller's second factor (exactly one
 * of totpCode / recoveryCode, checked on every such request); USER ⇄ NODE_OPERATOR needs none.
 */
const RoleChange = z
  .object({ role: RoleSchema, ...SecondFactorFields })
  .strict()
  .refine(atMostOneSecondFactor, AT_MOST_ONE_FACTOR_MESSAGE)
  .openapi("RoleChange");
const UserIdParam = z.object({ id: z.string().uuid("must be a user id (UUID)") });

function toJson(user: UserRecord) {
  return { ...user, createdAt: new Date(user.createdAt).toISOString(), updatedAt: new Date(user.updatedAt).toISOString() };
}

async function loadUser(c: Context<AppEnv>, id: string): Promise<UserRecord> {
  const user = await callDurableObject("UserIndexDO", "get", () => directory(c).get(id));
  if (!user) throw new ApiError("not-found", `No user ${id}.`);
  return user;
}

const list = createRoute({
  method: "get",
  path: "/",
  tags: ["users"],
  summary: "List users (ADMIN+), by id, paged with `after`",
  ...guarded("users:read:any"),
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), after: z.string().uuid().optional() }) },
  responses: {
    200: { description: "Users", content: json(z.object({ users: z.array(UserSchema) })) },
    ...problemResponses(400, 401, 403, 429, 500),
  },
});

const me = createRoute({
  method: "get",
  path: "/me",
  tags: ["users"],
  summary: "The caller's own profile",
  ...guarded("profile:read:own"),
  responses: { 200: { description: "User", content: json(UserSchema) }, ...problemResponses(401, 403, 404, 429, 500) },
});

const patchMe = createRoute({
  method: "patch",
  path: "/me",
  tags: ["users"],
  summary:
    "Update the caller's display name, or remove their email; a new email (for magic links) is mailed a confirmation token, and the answer is the same whether or not the address is taken",
  ...guarded("profile:write:own"),
  request: { body: { required: true, content: json(ProfilePatch) } },
  responses: {
    200: { description: "Updated", content: json(PatchedUserSchema) },
    ...problemResponses(400, 401, 403, 404, 413, 415, 429, 500, 503),
  },
});

const confirmEmail = createRoute({
  method: "post",
  path: "/me/email/confirm",
  tags: ["users"],
  summary: "Set the caller's email to the address a confirmation token (mailed by PATCH /users/me) names",
  ...guarded("profile:write:own"),
  request: {
    body: {
      required: true,
      content: json(
        z
          .object({ token: z.string().min(10).max(2048) })
          .strict()
          .openapi("EmailConfirmRequest"),
      ),
    },
  },
  responses: {
    200: { description: "Updated", content: json(UserSchema) },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 429, 500),
  },
});

const getOne = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["users"],
  summary: "One user: the caller themselves, or anyone for ADMIN+",
  ...guarded("profile:read:own"),
  request: { params: UserIdParam },
  responses: { 200: { description: "User", content: json(UserSchema) }, ...problemResponses(400, 401, 403, 404, 429, 500) },
});

const setRole = createRoute({
  method: "put",
  path: "/{id}/role",
  tags: ["users"],
  summary:
    "Change a user's role (ADMIN+; ADMIN and SUPER_ADMIN only by a SUPER_ADMIN with a fresh TOTP or recovery code in the body; the last SUPER_ADMIN stays)",
  ...guarded("users:role:write"),
  request: { params: UserIdParam, body: { required: true, content: json(RoleChange) } },
  responses: {
    200: { description: "Updated", content: json(UserSchema) },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 429, 500),
  },
});

const revokeSessions = createRoute({
  method: "delete",
  path: "/{id}/sessions",
  tags: ["users"],
  summary:
    "Revoke every login session of a user (ADMIN+, not of a higher role; e.g. a lost wallet): their tokens stop working for privileged actions at once, their refresh tokens for good",
  ...guarded("sessions:revoke:any"),
  request: { params: UserIdParam },
  responses: {
    200: { description: "Revoked", content: json(z.object({ revoked: z.number().int() })) },
    ...problemResponses(400, 401, 403, 404, 429, 500),
  },
});

export const usersApp = createApp()
  .openapi(list, async (c) => {
    const { limit, after } = c.req.valid("query");
    const users = await callDurableObject("UserIndexDO", "list", () => directory(c).list(limit, after));
    return c.json({ users: users.map(toJson) }, 200);
  })
  .openapi(me, async (c) => c.json(toJson(await loadUser(c, principalOf(c).userId)), 200))
  .openapi(patchMe, async (c) => {
    const principal = principalOf(c);
    const { email, ...rest } = c.req.valid("json");
    const current = await loadUser(c, principal.userId);
    // Removing the email, or naming the one already set, changes nothing anyone else owns.
    const changesEmail = typeof email === "string" && email.toLowerCase() !== current.email;
    const patch = changesEmail ? rest : { ...rest, ...(email === undefined ? {} : { email }) };
    if (changesEmail) await requestEmailChange(c, principal.userId, email);
    const result = await callDurableObject(
      "UserIndexDO",
      "updateProfile",
      async () => await directory(c).updateProfile(principal.userId, patch),
    );
    if (!result.ok) {
      // Not reachable for a new email (it is only mailed): the account vanished meanwhile.
      throw new ApiError("not-found", "Your account does not exist (yet).");
    }
    await audit(c.env, {
      action: "users.profile_update",
      outcome: "success",
      actorId: principal.userId,
      targetId: principal.userId,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: { fields: Object.keys(patch), emailConfirmationSent: changesEmail },
    });
    return c.json({ ...toJson(result.user), ...(changesEmail ? { emailConfirmationSentTo: email.toLowerCase() } : {}) }, 200);
  })
  .openapi(confirmEmail, async (c) => {
    const principal = principalOf(c);
    const email = await confirmedEmail(c, principal.userId, c.req.valid("json").token);
    const result = await callDurableObject(
      "UserIndexDO",
      "updateProfile",
      async () => await directory(c).updateProfile(principal.userId, { email }),
    );
    if (!result.ok) {
      // Only the address's holder (who has the token) can learn it was taken meanwhile.
      if (result.reason === "email-taken") throw new ApiError("conflict", "That address was registered by another account meanwhile.");
      throw new ApiError("not-found", "Your account does not exist (yet).");
    }
    await audit(c.env, {
      action: "users.email_confirm",
      outcome: "success",
      actorId: principal.userId,
      targetId: principal.userId,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
    });
    return c.json(toJson(result.user), 200);
  })
  .openapi(getOne, async (c) => {
    const { id } = c.req.valid("param");
    assertOwnerOr(principalOf(c), id, "users:read:any");
    return c.json(toJson(await loadUser(c, id)), 200);
  })
  .openapi(setRole, async (c) => {
    const principal = principalOf(c);
    const { id } = c.req.valid("param");
    const { role, totpCode, recoveryCode } = c.req.valid("json");
    const facts = { actorId: principal.userId, targetId: id, ip: clientAddress(c), requestId: c.get("requestId") };
    const refused = async (reason: string): Promise<never> => {
      await audit(c.env, { action: "users.role_change", outcome: "failure", ...facts, details: { to: role, reason } });
      if (reason === "not-found") throw new ApiError("not-found", `No user ${id}.`);
      if (reason === "last-super-admin") throw new ApiError("conflict", "The last SUPER_ADMIN cannot be demoted; promote another first.");
      if (reason === "second-factor-required")
        throw new ApiError("second-factor-required", "The target's role changed meanwhile; this change needs a second factor.", {
          secondFactor: "required",
        });
      throw new ApiError("forbidden", "Granting or removing ADMIN and SUPER_ADMIN needs SUPER_ADMIN; other changes need ADMIN.");
    };
    const target = await callDurableObject("UserIndexDO", "get", () => directory(c).get(id));
    if (!target) return await refused("not-found");
    // Authority over others is handed out (or taken) only with a fresh second factor: the role
    // check first (an ADMIN still gets 403 forbidden), then the code, checked by the caller's UserDO.
    const touchesAdmin = changesAdminAuthority(target.role, role);
    let secondFactor: "totp" | "recovery-code" | null = null;
    if (touchesAdmin) {
      if (!mayChangeRole(principal.role, target.role, role)) return await refused("forbidden");
      secondFactor = await requirePresentedSecondFactor(c, "users.role_change", { totpCode, recoveryCode }, id);
    }
    const result = await callDurableObject(
      "UserIndexDO",
      "changeRole",
      async () => await directory(c).changeRole(principal.userId, id, role, secondFactor !== null),
    );
    if (!result.ok) return await refused(result.reason);
    await audit(c.env, {
      action: "users.role_change",
      outcome: "success",
      ...facts,
      details: { from: result.before, to: result.after, ...(secondFactor ? { secondFactor } : {}) },
    });
    return c.json(toJson(result.user), 200);
  })
  .openapi(revokeSessions, async (c) => {
    const principal = principalOf(c);
    const { id } = c.req.valid("param");
    const target = await loadUser(c, id);
    // The caller's current role (requirePermission checked it against the directory): an ADMIN cannot lock out a SUPER_ADMIN.
    if (!mayActOn(principal.role, target.role)) {
      await audit(c.env, {
        action: "auth.sessions_revoke_all",
        outcome: "failure",
        actorId: principal.userId,
        targetId: id,
        ip: clientAddress(c),
        requestId: c.get("requestId"),
        details: { reason: "target-outranks-actor", targetRole: target.role },
      });
      throw new ApiError("forbidden", `Revoking a ${target.role}'s sessions needs the ${target.role} role.`);
    }
    const revoked = await callDurableObject("UserDO", "revokeAllSessions", () => userStub(c, id).revokeAllSessions("revoked-by-admin"));
    await audit(c.env, {
      action: "auth.sessions_revoke_all",
      outcome: "success",
      actorId: principal.userId,
      targetId: id,
      ip: clientAddress(c),
      requestId: c.get("requestId"),
      details: { revoked },
    });
    return c.json({ revoked }, 200);
  });
