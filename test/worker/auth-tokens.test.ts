import { base64urlnopad } from "@scure/base";
import { sign as honoSign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { JwtKeyring } from "../../shared/jwt.ts";
import { getAuthed, login, newWallet, postJson } from "./auth-helpers.ts";
import { api, problemOf, TEST_JWT_SECRET, tokenFor } from "./helpers.ts";

const PREVIOUS_SECRET = "test-only-previous-jwt-secret-0123456789abcdef01234567";
const ME = "/api/v1/users/me";
const b64 = (value: unknown) => base64urlnopad.encode(new TextEncoder().encode(JSON.stringify(value)));
const now = () => Math.floor(Date.now() / 1000);

async function expect401(token: string) {
  const res = await getAuthed(ME, token);
  expect(res.status).toBe(401);
  expect((await problemOf(res)).type).toBe("/problems/unauthorized");
}

describe("access tokens: attacks on the JWT", () => {
  it("alg: none is refused (with and without a signature)", async () => {
    const { user } = await login(newWallet());
    const payload = b64({ sub: user.id, role: "SUPER_ADMIN", exp: now() + 600 });
    const header = b64({ alg: "none", typ: "JWT" });
    expect((await getAuthed(ME, `${header}.${payload}.`)).status).toBe(401);
    await expect401(`${header}.${payload}.${"A".repeat(43)}`);
  });

  it("a tampered payload (role raised) fails the signature check", async () => {
    const tokens = await login(newWallet());
    const [header, payload, signature] = tokens.accessToken.split(".") as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64urlnopad.decode(payload)));
    const forged = b64({ ...claims, role: "SUPER_ADMIN" });
    await expect401(`${header}.${forged}.${signature}`);
    // Another algorithm named in the header with the same MAC is refused too.
    await expect401(`${b64({ alg: "HS512", typ: "JWT" })}.${payload}.${signature}`);
  });

  it("a token signed with a wrong key, or naming an unknown kid, is refused", async () => {
    const { user } = await login(newWallet());
    const wrong = await JwtKeyring.create("an-attacker-chosen-secret-0123456789abcdef");
    await expect401(await wrong.sign({ sub: user.id, role: "USER", exp: now() + 600 }));
    await expect401(
      await honoSign({ sub: user.id, role: "USER", exp: now() + 600 }, "an-attacker-chosen-secret-0123456789abcdef", "HS256"),
    );
  });

  it("an expired token is refused", async () => {
    const { user } = await login(newWallet());
    await expect401(await tokenFor(user.id, "USER", -5));
  });

  it("JWT_SECRET_KEY rotation: tokens of the previous key (by kid) still verify, the current key's too", async () => {
    const tokens = await login(newWallet());
    expect((await getAuthed(ME, tokens.accessToken)).status).toBe(200);
    const previous = await JwtKeyring.create(PREVIOUS_SECRET);
    expect((await getAuthed(ME, await previous.sign({ sub: tokens.user.id, role: "USER", exp: now() + 600 }))).status).toBe(200);
    // Tokens without kid (as test helpers sign them) are checked against the current key only.
    expect(
      (await getAuthed(ME, await honoSign({ sub: tokens.user.id, role: "USER", exp: now() + 600 }, TEST_JWT_SECRET, "HS256"))).status,
    ).toBe(200);
    await expect401(await honoSign({ sub: tokens.user.id, role: "USER", exp: now() + 600 }, PREVIOUS_SECRET, "HS256"));
  });

  it("issued access tokens: HS256, a kid, 15 minutes, sub/role/sid", async () => {
    const tokens = await login(newWallet());
    const [header, payload] = tokens.accessToken
      .split(".")
      .slice(0, 2)
      .map((part) => JSON.parse(new TextDecoder().decode(base64urlnopad.decode(part)))) as [
      Record<string, unknown>,
      Record<string, number | string>,
    ];
    expect(header).toMatchObject({ alg: "HS256", typ: "JWT" });
    expect(typeof header.kid).toBe("string");
    expect(payload).toMatchObject({ sub: tokens.user.id, role: "USER", sid: tokens.sessionId, typ: "access" });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(900);
  });

  it("garbage Authorization headers are 401, not 500", async () => {
    for (const header of ["Bearer", "Bearer a.b", "Basic dXNlcjpwYXNz", `Bearer ${"a".repeat(20)}.${"b".repeat(20)}.${"c".repeat(43)}`]) {
      const res = await api(ME, { headers: { Authorization: header } });
      expect(res.status).toBe(401);
    }
  });
});

describe("refresh tokens: rotation, reuse detection, logout, session limit", () => {
  it("rotates: each refresh returns a new pair; the access token works", async () => {
    const first = await login(newWallet());
    const res = await postJson("/api/v1/auth/refresh", { refreshToken: first.refreshToken });
    expect(res.status).toBe(200);
    const second = (await res.json()) as { accessToken: string; refreshToken: string; sessionId: string };
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.sessionId).toBe(first.sessionId);
    expect((await getAuthed(ME, second.accessToken)).status).toBe(200);
  });

  it("reuse of a rotated refresh token revokes the whole family (thief and victim both cut off)", async () => {
    const first = await login(newWallet());
    const rotated = (await (await postJson("/api/v1/auth/refresh", { refreshToken: first.refreshToken })).json()) as {
      refreshToken: string;
      accessToken: string;
    };
    const reuse = await postJson("/api/v1/auth/refresh", { refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    // The legitimate newest token of the family is dead too.
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: rotated.refreshToken })).status).toBe(401);
    const sessions = (await (await getAuthed("/api/v1/auth/sessions", rotated.accessToken)).json()) as { sessions: unknown[] };
    expect(sessions.sessions).toHaveLength(0);
  });

  it("unknown or malformed refresh tokens are refused", async () => {
    const { user } = await login(newWallet());
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: `${user.id}.${"A".repeat(43)}` })).status).toBe(401);
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: "nope" })).status).toBe(400);
  });

  it("logout revokes the session's refresh token", async () => {
    const tokens = await login(newWallet());
    const out = await api("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${tokens.accessToken}` } });
    expect(out.status).toBe(204);
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
  });

  it("limits concurrent sessions to 5: the sixth login revokes the oldest", async () => {
    const wallet = newWallet();
    const logins = [];
    for (let i = 0; i < 6; i++) logins.push(await login(wallet));
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: logins[0]!.refreshToken })).status).toBe(401);
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: logins[1]!.refreshToken })).status).toBe(200);
    const list = (await (await getAuthed("/api/v1/auth/sessions", logins[5]!.accessToken)).json()) as {
      sessions: { id: string; current: boolean }[];
    };
    expect(list.sessions).toHaveLength(5);
    expect(list.sessions.map((s) => s.id)).not.toContain(logins[0]!.sessionId);
    expect(list.sessions.filter((s) => s.current).map((s) => s.id)).toEqual([logins[5]!.sessionId]);
  });

  it("revokes one of one's own sessions; another user's session id is not found and stays alive", async () => {
    const alice = newWallet();
    const a1 = await login(alice);
    const a2 = await login(alice);
    const bob = await login(newWallet());
    const res = await getAuthed(`/api/v1/auth/sessions/${a1.sessionId}`, a2.accessToken, "DELETE");
    expect(res.status).toBe(204);
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: a1.refreshToken })).status).toBe(401);
    // Bob tries Alice's session id.
    const foreign = await getAuthed(`/api/v1/auth/sessions/${a2.sessionId}`, bob.accessToken, "DELETE");
    expect(foreign.status).toBe(404);
    expect((await postJson("/api/v1/auth/refresh", { refreshToken: a2.refreshToken })).status).toBe(200);
  });
});
