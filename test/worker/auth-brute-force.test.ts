import { describe, expect, it } from "vitest";
import { signMessageV2 } from "../../shared/tron/message-signature.ts";
import { testEnv as env, challengeFor, newWallet, postJson } from "./auth-helpers.ts";
import { problemOf } from "./helpers.ts";

const FREE_FAILURES = 5; // LOGIN_FAILURES_BEFORE_BACKOFF in wrangler.toml

async function failOnce(address: string, ip: string) {
  await challengeFor(address, ip);
  return postJson("/api/v1/auth/verify", { address, signature: "0x" + "11".repeat(65) }, { ip });
}

describe("brute-force limits on login", () => {
  it("per address: past the free failures, even a correct signature gets 429 with Retry-After", async () => {
    const wallet = newWallet();
    for (let i = 0; i <= FREE_FAILURES; i++) {
      expect((await failOnce(wallet.address, `203.0.113.${i + 1}`)).status).toBe(401);
    }
    const res = await postJson("/api/v1/auth/challenge", { address: wallet.address }, { ip: "203.0.113.99" });
    expect(res.status).toBe(429);
    const problem = await problemOf(res);
    expect(problem.type).toBe("/problems/login-throttled");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    const verify = await postJson("/api/v1/auth/verify", { address: wallet.address, signature: signMessageV2("anything", wallet.key) }, { ip: "203.0.113.99" });
    expect(verify.status).toBe(429);
  });

  it("per IP: one client failing across many addresses is throttled on a fresh address too", async () => {
    const ip = `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i <= FREE_FAILURES; i++) expect((await failOnce(newWallet().address, ip)).status).toBe(401);
    const fresh = newWallet();
    expect((await postJson("/api/v1/auth/challenge", { address: fresh.address }, { ip })).status).toBe(429);
    // Another client is not affected.
    await challengeFor(fresh.address, "192.0.2.77");
  });

  it("the back-off doubles with each failure past the free ones, up to the maximum", async () => {
    const stub = env.LOGIN_GUARD.get(env.LOGIN_GUARD.idFromName(`addr:${newWallet().address}`));
    const policy = { freeFailures: 2, maxSeconds: 8 };
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const { lockedUntil } = await stub.recordFailure(policy);
      waits.push(lockedUntil === 0 ? 0 : Math.round((lockedUntil - Date.now()) / 1000));
    }
    expect(waits).toEqual([0, 0, 1, 2, 4, 8, 8]);
    expect(await stub.lockedUntil()).toBeGreaterThan(Date.now());
    await stub.recordSuccess();
    expect(await stub.lockedUntil()).toBe(0);
  });

  it("a successful login clears the address's failures", async () => {
    const wallet = newWallet();
    for (let i = 0; i < FREE_FAILURES; i++) await failOnce(wallet.address, `203.0.113.${150 + i}`);
    const { message } = await challengeFor(wallet.address, "203.0.113.200");
    expect((await postJson("/api/v1/auth/verify", { address: wallet.address, signature: signMessageV2(message, wallet.key) }, { ip: "203.0.113.200" })).status).toBe(200);
    // Failures start from zero again: one more failure is still free.
    expect((await failOnce(wallet.address, "203.0.113.201")).status).toBe(401);
    await challengeFor(wallet.address, "203.0.113.202");
  });
});
