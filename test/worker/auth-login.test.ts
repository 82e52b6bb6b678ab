import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signMessageV2 } from "../../shared/tron/message-signature.ts";
import { testEnv as env, attemptLogin, challengeFor, getAuthed, login, newWallet, postJson } from "./auth-helpers.ts";
import { api, problemOf } from "./helpers.ts";

describe("TRON wallet login: challenge → signMessageV2 → tokens", () => {
  it("issues an access and a refresh token for a valid signature, creating the user once", async () => {
    const wallet = newWallet();
    const challenge = await challengeFor(wallet.address);
    expect(challenge.message).toContain(wallet.address);
    expect(challenge.message).toContain(`Nonce: ${challenge.nonce}`);
    expect(challenge.message).toMatch(/^lucid\.test wants you to sign in/);
    expect(Date.parse(challenge.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);

    const res = await postJson("/api/v1/auth/verify", {
      address: wallet.address,
      nonce: challenge.nonce,
      signature: signMessageV2(challenge.message, wallet.key),
      walletKind: "ledger",
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as {
      accessToken: string;
      refreshToken: string;
      user: { id: string; role: string };
      secondFactor: string;
    };
    expect(tokens.user.role).toBe("USER");
    expect(tokens.secondFactor).toBe("not-required");

    const me = await getAuthed("/api/v1/users/me", tokens.accessToken);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: tokens.user.id, tronAddress: wallet.address, role: "USER" });

    const again = await login(wallet);
    expect(again.user.id).toBe(tokens.user.id);

    // The declared wallet kind is recorded with the session.
    const sessions = (await (await getAuthed("/api/v1/auth/sessions", tokens.accessToken)).json()) as {
      sessions: { walletKind: string | null; current: boolean }[];
    };
    expect(sessions.sessions.find((s) => s.current)?.walletKind).toBe("ledger");
  });

  it("refuses a replayed challenge (nonce is single-use), issuing nothing", async () => {
    const wallet = newWallet();
    const { message, nonce } = await challengeFor(wallet.address);
    const body = { address: wallet.address, nonce, signature: signMessageV2(message, wallet.key) };
    expect((await postJson("/api/v1/auth/verify", body)).status).toBe(200);
    const replay = await postJson("/api/v1/auth/verify", body);
    expect(replay.status).toBe(401);
    const problem = await problemOf(replay);
    expect(problem.type).toBe("/problems/unauthorized");
    expect(problem).not.toHaveProperty("accessToken");
  });

  it("a wrong signature also spends the challenge (no second guess at the same nonce)", async () => {
    const wallet = newWallet();
    const { message, nonce } = await challengeFor(wallet.address);
    const other = newWallet();
    expect(
      (await postJson("/api/v1/auth/verify", { address: wallet.address, nonce, signature: signMessageV2(message, other.key) })).status,
    ).toBe(401);
    expect(
      (await postJson("/api/v1/auth/verify", { address: wallet.address, nonce, signature: signMessageV2(message, wallet.key) })).status,
    ).toBe(401);
  });

  it("refuses an expired challenge", async () => {
    const wallet = newWallet();
    const { message, nonce } = await challengeFor(wallet.address);
    const stub = env.LOGIN_GUARD.get(env.LOGIN_GUARD.idFromName(`addr:${wallet.address}`));
    // Age the stored challenge past its expiry (the clock cannot be moved inside workerd).
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE challenges SET expires_at = ?", Date.now() - 1);
    });
    const res = await postJson("/api/v1/auth/verify", { address: wallet.address, nonce, signature: signMessageV2(message, wallet.key) });
    expect(res.status).toBe(401);
  });

  it("refuses a foreign signature: another key, another address's challenge, another message", async () => {
    const victim = newWallet();
    const attacker = newWallet();
    // Attacker signs the victim's challenge with their own key.
    const { message, nonce } = await challengeFor(victim.address);
    expect(
      (await postJson("/api/v1/auth/verify", { address: victim.address, nonce, signature: signMessageV2(message, attacker.key) })).status,
    ).toBe(401);
    // A signature over the attacker's own challenge presented for the victim (by either nonce).
    const own = await challengeFor(attacker.address);
    const victims = await challengeFor(victim.address);
    expect(
      (
        await postJson("/api/v1/auth/verify", {
          address: victim.address,
          nonce: own.nonce,
          signature: signMessageV2(own.message, attacker.key),
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await postJson("/api/v1/auth/verify", {
          address: victim.address,
          nonce: victims.nonce,
          signature: signMessageV2(own.message, attacker.key),
        })
      ).status,
    ).toBe(401);
    // The right key over a different text (e.g. a phishing site's message).
    const third = await challengeFor(victim.address);
    expect(
      (
        await postJson("/api/v1/auth/verify", {
          address: victim.address,
          nonce: third.nonce,
          signature: signMessageV2("hello tron", victim.key),
        })
      ).status,
    ).toBe(401);
  });

  it("malformed signatures are a 401 problem; malformed addresses a 400; no challenge at all a 401", async () => {
    const wallet = newWallet();
    for (const signature of ["0x", "zz", "0x" + "00".repeat(65), "0x" + "ab".repeat(64) + "05"]) {
      const { nonce } = await challengeFor(wallet.address);
      const res = await postJson("/api/v1/auth/verify", { address: wallet.address, nonce, signature });
      expect(res.status).toBe(401);
      expect((await problemOf(res)).type).toBe("/problems/unauthorized");
    }
    const bad = await postJson("/api/v1/auth/challenge", {
      address: wallet.address.slice(0, -1) + (wallet.address.endsWith("A") ? "B" : "A"),
    });
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).type).toBe("/problems/validation-failed");
    const fresh = newWallet();
    const unknownNonce = "0".repeat(32);
    expect(
      (await postJson("/api/v1/auth/verify", { address: fresh.address, nonce: unknownNonce, signature: "0x" + "11".repeat(65) })).status,
    ).toBe(401);
    expect(
      (await postJson("/api/v1/auth/verify", { address: fresh.address, nonce: unknownNonce, signature: "0x11", role: "SUPER_ADMIN" }))
        .status,
    ).toBe(400);
    expect((await postJson("/api/v1/auth/verify", { address: fresh.address, signature: "0x" + "11".repeat(65) })).status).toBe(400);
  });

  it("several challenges may be outstanding: a new one never voids another, each is answered once", async () => {
    const wallet = newWallet();
    const first = await challengeFor(wallet.address);
    // Someone else keeps asking for challenges for the same address meanwhile.
    const others = [];
    for (let i = 0; i < 5; i++) others.push(await challengeFor(wallet.address, `192.0.2.${100 + i}`));
    const answer = (c: { nonce: string; message: string }) =>
      postJson("/api/v1/auth/verify", { address: wallet.address, nonce: c.nonce, signature: signMessageV2(c.message, wallet.key) });
    expect((await answer(first)).status).toBe(200);
    expect((await answer(first)).status).toBe(401);
    // The others are still open, each for one answer.
    expect((await answer(others[2]!)).status).toBe(200);
    const stub = env.LOGIN_GUARD.get(env.LOGIN_GUARD.idFromName(`addr:${wallet.address}`));
    expect(await stub.outstandingChallenges()).toBe(4);
    // A challenge's signature does not answer another challenge.
    expect(
      (
        await postJson("/api/v1/auth/verify", {
          address: wallet.address,
          nonce: others[0]!.nonce,
          signature: signMessageV2(others[1]!.message, wallet.key),
        })
      ).status,
    ).toBe(401);
  });

  it("accepts signatures made by tronweb's Trx.signMessageV2 inside workerd", async () => {
    const { Trx, TronWeb } = await import("tronweb");
    const wallet = newWallet();
    const keyHex = [...wallet.key].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(TronWeb.address.fromPrivateKey(keyHex)).toBe(wallet.address);
    const { message, nonce } = await challengeFor(wallet.address);
    const res = await postJson("/api/v1/auth/verify", {
      address: wallet.address,
      nonce,
      signature: Trx.signMessageV2(message, keyHex),
      walletKind: "tronlink",
    });
    expect(res.status).toBe(200);
  });

  it("logs every failed and successful login in the audit log", async () => {
    const wallet = newWallet();
    await attemptLogin(wallet);
    const stub = env.AUDIT.get(env.AUDIT.idFromName("audit"));
    const events = await stub.list({ limit: 20, action: "auth.login" });
    expect(events.some((e) => e.outcome === "success")).toBe(true);
    expect(JSON.stringify(events)).not.toMatch(/0x[0-9a-f]{100,}|"refreshToken"|"accessToken"|"secret"/);
  });

  it("GET on the login endpoints is 405, not a login", async () => {
    expect((await api("/api/v1/auth/verify")).status).toBe(405);
  });
});
