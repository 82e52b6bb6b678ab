import { describe, expect, it } from "vitest";
import {
  testEnv as env,
  getAuthed,
  login,
  newWallet,
  postJson,
  superAdminFactor,
  superAdminLogin,
  userWithRole,
  mailTo,
  setEmail,
} from "./auth-helpers.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { problemOf, tokenFor } from "./helpers.ts";

const setRole = (id: string, role: string, token: string, factor: Record<string, string> = {}) =>
  postJson(`/api/v1/users/${id}/role`, { role, ...factor }, { token, method: "PUT" });

describe("roles: who may change what", () => {
  it("the bootstrap address becomes SUPER_ADMIN, with USER powers until TOTP is passed", async () => {
    const sa = await superAdminLogin();
    expect(sa.user.role).toBe("SUPER_ADMIN");
    expect(sa.effectiveRole).toBe("SUPER_ADMIN");
    expect((await getAuthed("/api/v1/users", sa.accessToken)).status).toBe(200);
  });

  it("a USER or NODE_OPERATOR cannot change roles, not even their own", async () => {
    const user = await userWithRole("USER");
    const operator = await userWithRole("NODE_OPERATOR");
    const forUser = await setRole(user.id, "ADMIN", user.tokens.accessToken);
    expect(forUser.status).toBe(403);
    expect((await problemOf(forUser)).type).toBe("/problems/forbidden");
    // The operator's old token says USER; a fresh one carries NODE_OPERATOR, still not enough.
    const opToken = (await login(operator.wallet)).accessToken;
    expect((await setRole(operator.id, "SUPER_ADMIN", opToken)).status).toBe(403);
    expect((await setRole(user.id, "NODE_OPERATOR", opToken)).status).toBe(403);
  });

  it("an ADMIN changes USER ↔ NODE_OPERATOR, but cannot grant or remove ADMIN/SUPER_ADMIN", async () => {
    const sa = await superAdminLogin();
    const admin = await steppedUpAdmin("ADMIN");
    const target = await userWithRole("USER");
    // A real ADMIN session (TOTP passed): role changes check its current role and session.
    const adminToken = admin.token;
    const ok = await setRole(target.id, "NODE_OPERATOR", adminToken);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id: target.id, role: "NODE_OPERATOR" });
    expect((await setRole(target.id, "ADMIN", adminToken)).status).toBe(403);
    expect((await setRole(target.id, "SUPER_ADMIN", adminToken)).status).toBe(403);
    expect((await setRole(sa.user.id, "USER", adminToken)).status).toBe(403);
    expect((await setRole(admin.id, "SUPER_ADMIN", adminToken)).status).toBe(403);
  });

  it("a forged role claim does not help: the directory checks the actor's stored role", async () => {
    const user = await userWithRole("USER");
    const victim = await userWithRole("USER");
    // As if the signing key had leaked: a SUPER_ADMIN claim on the user's own live session …
    const forged = await tokenFor(user.id, "SUPER_ADMIN", 900, user.tokens.sessionId);
    expect((await setRole(victim.id, "ADMIN", forged)).status).toBe(403);
    // … or on no session at all: refused before the directory is asked.
    expect((await setRole(victim.id, "ADMIN", await tokenFor(user.id, "SUPER_ADMIN"))).status).toBe(401);
    expect((await getAuthed(`/api/v1/users/${victim.id}`, forged)).status).toBe(200); // reads trust the claim (cheap)
  });

  it("SUPER_ADMIN grants ADMIN and SUPER_ADMIN; the last SUPER_ADMIN cannot be demoted", async () => {
    const sa = await superAdminLogin();
    const target = await userWithRole("USER");
    expect((await setRole(target.id, "ADMIN", sa.accessToken, await superAdminFactor())).status).toBe(200);
    const lastDemotion = await setRole(sa.user.id, "ADMIN", sa.accessToken, await superAdminFactor());
    expect(lastDemotion.status).toBe(409);
    expect((await problemOf(lastDemotion)).detail).toMatch(/last SUPER_ADMIN/);
    expect((await setRole(target.id, "SUPER_ADMIN", sa.accessToken, await superAdminFactor())).status).toBe(200);
    // With two, one may step down — then the other is the last again.
    expect((await setRole(target.id, "USER", sa.accessToken, await superAdminFactor())).status).toBe(200);
    expect((await setRole(sa.user.id, "USER", sa.accessToken, await superAdminFactor())).status).toBe(409);
  });

  it("every role change, allowed or refused, is audited", async () => {
    const sa = await superAdminLogin();
    const target = await userWithRole("USER");
    await setRole(target.id, "NODE_OPERATOR", sa.accessToken);
    await setRole(sa.user.id, "USER", sa.accessToken, await superAdminFactor());
    const events = await env.AUDIT.get(env.AUDIT.idFromName("audit")).list({ limit: 50, action: "users.role_change" });
    expect(events.find((e) => e.targetId === target.id && e.outcome === "success")?.details).toMatchObject({
      from: "USER",
      to: "NODE_OPERATOR",
    });
    expect(events.find((e) => e.targetId === sa.user.id && e.outcome === "failure")?.details).toMatchObject({ reason: "last-super-admin" });
  });

  it("unknown target → 404; bad role or extra fields → 400", async () => {
    const sa = await superAdminLogin();
    expect((await setRole(crypto.randomUUID(), "USER", sa.accessToken)).status).toBe(404);
    const target = await userWithRole("USER");
    expect((await setRole(target.id, "ROOT", sa.accessToken)).status).toBe(400);
    expect(
      (await postJson(`/api/v1/users/${target.id}/role`, { role: "USER", id: sa.user.id }, { token: sa.accessToken, method: "PUT" }))
        .status,
    ).toBe(400);
  });
});

describe("role escalation through writable fields", () => {
  it("PATCH /users/me refuses role, id, tronAddress and any unknown field, changing nothing", async () => {
    const { tokens } = await userWithRole("USER");
    for (const field of [
      { role: "SUPER_ADMIN" },
      { id: crypto.randomUUID() },
      { tronAddress: newWallet().address },
      { createdAt: 0 },
      { email: "a@b.c", role: "ADMIN" },
    ]) {
      const res = await postJson("/api/v1/users/me", field, { token: tokens.accessToken, method: "PATCH" });
      expect(res.status).toBe(400);
      expect((await problemOf(res)).type).toBe("/problems/validation-failed");
    }
    const me = (await (await getAuthed("/api/v1/users/me", tokens.accessToken)).json()) as { role: string; email: string | null };
    expect(me).toMatchObject({ role: "USER", email: null });
  });

  it("login bodies cannot carry a role either", async () => {
    const wallet = newWallet();
    const challenge = await postJson("/api/v1/auth/challenge", { address: wallet.address, role: "ADMIN" });
    expect(challenge.status).toBe(400);
    const verify = await postJson("/api/v1/auth/verify", {
      address: wallet.address,
      nonce: "0".repeat(32),
      signature: "0x00",
      role: "ADMIN",
    });
    expect(verify.status).toBe(400);
    const refresh = await postJson("/api/v1/auth/refresh", { refreshToken: "x".repeat(20), role: "ADMIN" });
    expect(refresh.status).toBe(400);
  });

  it("a user sets their display name at once and their email once the mailed token confirms it", async () => {
    const a = await userWithRole("USER");
    const email = `${crypto.randomUUID()}@example.org`;
    const res = await postJson("/api/v1/users/me", { email, displayName: "Alice" }, { token: a.tokens.accessToken, method: "PATCH" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ email: null, displayName: "Alice", role: "USER", emailConfirmationSentTo: email });
    const token = /\n\n(\S+)\n\n/.exec((await mailTo(email, /^Confirm/)).text)![1]!;
    // The token is the account's own: another user cannot confirm it for themselves.
    const b = await userWithRole("USER");
    expect((await postJson("/api/v1/users/me/email/confirm", { token }, { token: b.tokens.accessToken })).status).toBe(400);
    expect((await postJson("/api/v1/users/me/email/confirm", { token: `${token}x` }, { token: a.tokens.accessToken })).status).toBe(400);
    // An access token is not a confirmation token.
    expect(
      (await postJson("/api/v1/users/me/email/confirm", { token: a.tokens.accessToken }, { token: a.tokens.accessToken })).status,
    ).toBe(400);
    const confirmed = await postJson("/api/v1/users/me/email/confirm", { token }, { token: a.tokens.accessToken });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toMatchObject({ email, displayName: "Alice" });
    // Removing it needs no confirmation.
    const removed = await postJson("/api/v1/users/me", { email: null }, { token: a.tokens.accessToken, method: "PATCH" });
    expect(await removed.json()).toMatchObject({ email: null });
  });

  it("an email change answers the same whether the address is taken or not, and mails the address", async () => {
    const owner = await userWithRole("USER");
    const taken = `${crypto.randomUUID()}@example.org`;
    await setEmail(owner.tokens.accessToken, taken);
    const free = `${crypto.randomUUID()}@example.org`;
    const prober = await userWithRole("USER");
    const strip = (body: Record<string, unknown>) => ({ ...body, updatedAt: undefined, emailConfirmationSentTo: undefined });
    const answers = [];
    for (const email of [taken.toUpperCase(), free]) {
      const res = await postJson("/api/v1/users/me", { email }, { token: prober.tokens.accessToken, method: "PATCH" });
      const body = (await res.json()) as Record<string, unknown>;
      answers.push({ status: res.status, body: strip(body), sentTo: body.emailConfirmationSentTo });
    }
    expect(answers[0]).toEqual({ status: 200, body: answers[1]!.body, sentTo: taken });
    expect(answers[1]).toMatchObject({ status: 200, sentTo: free });
    // The prober's profile did not change either way, so reading it back tells nothing.
    expect(await (await getAuthed("/api/v1/users/me", prober.tokens.accessToken)).json()).toMatchObject({ email: null });
    // The taken address's holder is told someone tried; it gets no token.
    const warning = await mailTo(taken, /tried to use this address/);
    expect(warning.text).not.toMatch(/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}/);
    await mailTo(free, /^Confirm/);
  });
});

describe("another user's ids", () => {
  it("a USER reads only their own record; ADMIN+ reads anyone's", async () => {
    const alice = await userWithRole("USER");
    const bob = await userWithRole("USER");
    expect((await getAuthed(`/api/v1/users/${alice.id}`, alice.tokens.accessToken)).status).toBe(200);
    const foreign = await getAuthed(`/api/v1/users/${bob.id}`, alice.tokens.accessToken);
    expect(foreign.status).toBe(403);
    expect(JSON.stringify(await foreign.json())).not.toContain(bob.wallet.address);
    expect((await getAuthed("/api/v1/users", alice.tokens.accessToken)).status).toBe(403);
    const sa = await superAdminLogin();
    expect((await getAuthed(`/api/v1/users/${bob.id}`, sa.accessToken)).status).toBe(200);
  });
});

describe("ADMIN revokes a user's sessions", () => {
  it("every refresh token of the user stops working; USERs may not do it", async () => {
    const victim = await userWithRole("USER");
    const other = await userWithRole("USER");
    const url = `/api/v1/users/${victim.id}/sessions`;
    expect((await getAuthed(url, other.tokens.accessToken, "DELETE")).status).toBe(403);
    const sa = await superAdminLogin();
    const res = await getAuthed(url, sa.accessToken, "DELETE");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked: 1 });
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: victim.tokens.refreshToken })).status).toBe(401);
    expect((await getAuthed(`/api/v1/users/${crypto.randomUUID()}/sessions`, sa.accessToken, "DELETE")).status).toBe(404);
  });

  it("an ADMIN cannot revoke a SUPER_ADMIN's sessions nor change their role; a peer ADMIN's sessions it can", async () => {
    const sa = await superAdminLogin();
    const admin = await steppedUpAdmin("ADMIN");
    const refused = await getAuthed(`/api/v1/users/${sa.user.id}/sessions`, admin.token, "DELETE");
    expect(refused.status).toBe(403);
    expect((await problemOf(refused)).type).toBe("/problems/forbidden");
    expect((await setRole(sa.user.id, "USER", admin.token)).status).toBe(403);
    // The SUPER_ADMIN's session still works for a privileged write (a role grant).
    await userWithRole("NODE_OPERATOR");
    const events = await env.AUDIT.get(env.AUDIT.idFromName("audit")).list({
      limit: 20,
      action: "auth.sessions_revoke_all",
      outcome: "failure",
    });
    expect(events.find((e) => e.actorId === admin.id && e.targetId === sa.user.id)?.details).toMatchObject({
      reason: "target-outranks-actor",
    });
    const peer = await steppedUpAdmin("ADMIN");
    expect((await getAuthed(`/api/v1/users/${peer.id}/sessions`, admin.token, "DELETE")).status).toBe(200);
  });
});
