import { describe, expect, it, vi } from "vitest";
import { testEnv as env, getAuthed, postJson, setEmail, superAdminLogin, userWithRole } from "./auth-helpers.ts";
import { api, problemOf } from "./helpers.ts";

interface OutboxMessage {
  to: string;
  subject: string;
  text: string;
}

async function outbox(): Promise<OutboxMessage[]> {
  const sa = await superAdminLogin();
  const res = await getAuthed("/api/v1/auth/outbox?limit=200", sa.accessToken);
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: OutboxMessage[] }).messages;
}

/** Login-link mails (the address's confirmation mail, from setting it, is another). */
const LOGIN_LINK = /login link/i;

/** Waits for the mail sent after the answer (waitUntil) to reach the dev outbox. */
async function mailTo(email: string): Promise<OutboxMessage> {
  return vi.waitFor(
    async () => {
      const found = (await outbox()).find((m) => m.to === email && LOGIN_LINK.test(m.subject));
      if (!found) throw new Error(`no mail to ${email}`);
      return found;
    },
    { timeout: 10_000, interval: 50 },
  );
}

function tokenIn(mail: OutboxMessage): string {
  const match = /#token=([0-9a-f-]{36}\.[A-Za-z0-9_-]{43})/.exec(mail.text);
  if (!match) throw new Error("no token in mail");
  return match[1]!;
}

async function userWithEmail() {
  const user = await userWithRole("USER");
  const email = `${crypto.randomUUID()}@example.org`;
  await setEmail(user.tokens.accessToken, email);
  return { ...user, email };
}

describe("magic links", () => {
  it("mails a single-use link to a registered email; the token logs in once", async () => {
    const user = await userWithEmail();
    const res = await postJson("/api/v1/auth/magic-link", { email: user.email });
    expect(res.status).toBe(202);
    const token = tokenIn(await mailTo(user.email));
    const first = await postJson("/api/v1/auth/magic-link/verify", { token });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ user: { id: user.id }, effectiveRole: "USER" });
    const again = await postJson("/api/v1/auth/magic-link/verify", { token });
    expect(again.status).toBe(401);
    expect((await problemOf(again)).type).toBe("/problems/unauthorized");
  });

  it("answers an unknown email exactly like a known one, and sends nothing", async () => {
    const known = await userWithEmail();
    const unknown = `${crypto.randomUUID()}@example.org`;
    const a = await postJson("/api/v1/auth/magic-link", { email: known.email });
    const b = await postJson("/api/v1/auth/magic-link", { email: unknown });
    expect(a.status).toBe(b.status);
    expect(await a.text()).toBe(await b.text());
    await mailTo(known.email);
    expect((await outbox()).some((m) => m.to === unknown)).toBe(false);
  });

  it("stores only the token's hash", async () => {
    const user = await userWithEmail();
    await postJson("/api/v1/auth/magic-link", { email: user.email });
    const token = tokenIn(await mailTo(user.email));
    const secret = token.split(".")[1]!;
    const { runInDurableObject } = await import("cloudflare:test");
    const rows = await runInDurableObject(env.USERS.get(env.USERS.idFromName(user.id)), (_i, state) =>
      state.storage.sql.exec("SELECT * FROM magic_links").toArray(),
    );
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(secret);
  });

  it("an expired link is refused", async () => {
    const user = await userWithEmail();
    await postJson("/api/v1/auth/magic-link", { email: user.email });
    const token = tokenIn(await mailTo(user.email));
    const { runInDurableObject } = await import("cloudflare:test");
    // Age the stored link past its 15 minutes (workerd's clock cannot be moved).
    await runInDurableObject(env.USERS.get(env.USERS.idFromName(user.id)), (_i, state) => {
      state.storage.sql.exec("UPDATE magic_links SET expires_at = ?", Date.now() - 1);
    });
    expect((await postJson("/api/v1/auth/magic-link/verify", { token })).status).toBe(401);
  });

  it("a newer link replaces the older one; forged and other users' tokens fail", async () => {
    const user = await userWithEmail();
    const other = await userWithEmail();
    await postJson("/api/v1/auth/magic-link", { email: user.email });
    const old = tokenIn(await mailTo(user.email));
    await postJson("/api/v1/auth/magic-link", { email: other.email });
    const otherToken = tokenIn(await mailTo(other.email));
    // Another user's secret under this user's id.
    expect((await postJson("/api/v1/auth/magic-link/verify", { token: `${user.id}.${otherToken.split(".")[1]}` })).status).toBe(401);
    expect((await postJson("/api/v1/auth/magic-link/verify", { token: `${user.id}.${"A".repeat(43)}` })).status).toBe(401);
    expect((await postJson("/api/v1/auth/magic-link/verify", { token: old })).status).toBe(200);
    expect((await postJson("/api/v1/auth/magic-link/verify", { token: "garbage" })).status).toBe(400);
  });

  it("an address that earned a back-off still gets 202, but no mail", async () => {
    const user = await userWithEmail();
    // Put the address deep into back-off (minutes), as a flood of requests would.
    const flood = env.LOGIN_GUARD.get(env.LOGIN_GUARD.idFromName(`mail:${user.email}`));
    for (let i = 0; i < 10; i++) await flood.recordFailure({ freeFailures: 0, maxSeconds: 900 });
    expect((await postJson("/api/v1/auth/magic-link", { email: user.email })).status).toBe(202);
    const other = await userWithEmail();
    await postJson("/api/v1/auth/magic-link", { email: other.email });
    await mailTo(other.email); // mail sent after the first answer would have arrived by now too
    expect((await outbox()).some((m) => m.to === user.email && LOGIN_LINK.test(m.subject))).toBe(false);
  });

  it("the outbox is for ADMIN+ only", async () => {
    const user = await userWithRole("USER");
    expect((await getAuthed("/api/v1/auth/outbox", user.tokens.accessToken)).status).toBe(403);
    expect((await api("/api/v1/auth/outbox")).status).toBe(401);
  });
});
