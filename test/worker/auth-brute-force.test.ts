import { describe, expect, it } from "vitest";
import { sourceOf } from "../../functions/auth/guard.ts";
import { signMessageV2 } from "../../shared/tron/message-signature.ts";
import { testEnv as env, challengeFor, login, newWallet, postJson } from "./auth-helpers.ts";
import { problemOf } from "./helpers.ts";

const FREE_FAILURES = 5; // LOGIN_FAILURES_BEFORE_BACKOFF in vitest.config.ts / wrangler.toml

// Sources are simulated with the `ip` option of test/worker/helpers.ts api() (the one place that
// says where a test request comes from).
let next = 0;
/** A source address no other test in this file uses. */
const freshSource = () => `203.0.${113 + Math.floor(next / 250)}.${(next++ % 250) + 1}`;

/** One failed login: a challenge of its own and a bad signature, from `ip`. */
async function failOnce(address: string, ip: string) {
  const { nonce } = await challengeFor(address, ip);
  return postJson("/api/v1/auth/verify", { address, nonce, signature: "0x" + "11".repeat(65) }, { ip });
}

async function expectThrottled(res: Response) {
  expect(res.status).toBe(429);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  expect((await problemOf(res)).type).toBe("/problems/login-throttled");
  expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
}

describe("login throttling cannot be turned against the account's owner", () => {
  it("an attacker rotating addresses, asking for challenges and sending bad signatures, cannot keep the owner out", async () => {
    const owner = newWallet();
    const home = "192.0.2.201";
    for (let round = 0; round < 3; round++) {
      // The owner asks for a challenge; the attacker then floods challenges and failures.
      const { message, nonce } = await challengeFor(owner.address, home);
      for (let i = 0; i < FREE_FAILURES + 3; i++) expect((await failOnce(owner.address, freshSource())).status).toBe(401);
      // The owner's challenge is still open and their source has no failures: they get in.
      const res = await postJson(
        "/api/v1/auth/verify",
        { address: owner.address, nonce, signature: signMessageV2(message, owner.key) },
        { ip: home },
      );
      expect(res.status).toBe(200);
      // Mid-attack, a fresh challenge and login work too.
      for (let i = 0; i < FREE_FAILURES + 1; i++) await failOnce(owner.address, freshSource());
      await login(owner, {}, home);
    }
  });

  it("while the account backs off, a source that failed before is refused for it (429, Retry-After)", async () => {
    const victim = newWallet();
    const sources = Array.from({ length: FREE_FAILURES + 1 }, freshSource);
    for (const ip of sources) expect((await failOnce(victim.address, ip)).status).toBe(401);
    // Each rotated address bought one try: a second from any of them is refused.
    await expectThrottled(await postJson("/api/v1/auth/challenge", { address: victim.address }, { ip: sources[0] }));
    const verify = await postJson(
      "/api/v1/auth/verify",
      { address: victim.address, nonce: "0".repeat(32), signature: "0x" + "11".repeat(65) },
      { ip: sources[1] },
    );
    await expectThrottled(verify);
    // A source with no failures is still let through (and signs in with a correct signature).
    await login(victim, {}, freshSource());
  });

  it("brute force from one source is throttled on every account, a fresh one too", async () => {
    const ip = `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i <= FREE_FAILURES; i++) expect((await failOnce(newWallet().address, ip)).status).toBe(401);
    const fresh = newWallet();
    await expectThrottled(await postJson("/api/v1/auth/challenge", { address: fresh.address }, { ip }));
    await expectThrottled(
      await postJson(
        "/api/v1/auth/verify",
        { address: fresh.address, nonce: "0".repeat(32), signature: signMessageV2("x", fresh.key) },
        { ip },
      ),
    );
    // Another client is not affected.
    await challengeFor(fresh.address, "192.0.2.77");
  });

  it("brute force on one account from one source is throttled, even with a correct signature", async () => {
    const wallet = newWallet();
    const ip = freshSource();
    for (let i = 0; i <= FREE_FAILURES; i++) expect((await failOnce(wallet.address, ip)).status).toBe(401);
    await expectThrottled(await postJson("/api/v1/auth/challenge", { address: wallet.address }, { ip }));
  });

  it("an IPv6 source is throttled by its /64, so rotating within it does not help", async () => {
    expect(sourceOf("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(sourceOf("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(sourceOf("::1")).toBe("0:0:0:0::/64");
    expect(sourceOf("192.0.2.1")).toBe("192.0.2.1");
    expect(sourceOf("::ffff:192.0.2.1")).toBe("192.0.2.1");
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:7`;
    for (let i = 0; i <= FREE_FAILURES; i++) expect((await failOnce(newWallet().address, `${prefix}::${i + 1}`)).status).toBe(401);
    await expectThrottled(await postJson("/api/v1/auth/challenge", { address: newWallet().address }, { ip: `${prefix}:1:2:3:4` }));
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
    expect((await stub.failureState()).failures).toBe(7);
    await stub.recordSuccess();
    expect(await stub.lockedUntil()).toBe(0);
  });

  it("a successful login clears the account's failures, not the failing sources'", async () => {
    const wallet = newWallet();
    const sources = Array.from({ length: FREE_FAILURES + 1 }, freshSource);
    for (const ip of sources) await failOnce(wallet.address, ip);
    await expectThrottled(await postJson("/api/v1/auth/challenge", { address: wallet.address }, { ip: sources[0] }));
    await login(wallet, {}, freshSource());
    // The account no longer backs off: a source with one failure may try again.
    expect((await failOnce(wallet.address, sources[0]!)).status).toBe(401);
    const stub = env.LOGIN_GUARD.get(env.LOGIN_GUARD.idFromName(`ip:${sources[0]}`));
    expect((await stub.failureState()).failures).toBe(2);
  });
});
