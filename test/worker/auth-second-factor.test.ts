import { describe, expect, it } from "vitest";
import { totpCode } from "../../shared/totp.ts";
import { attemptLogin, enrolTotp, getAuthed, login, nextCode, postJson, testEnv, userWithRole } from "./auth-helpers.ts";
import { problemOf } from "./helpers.ts";

describe("TOTP for ADMIN and SUPER_ADMIN logins", () => {
  it("an ADMIN without TOTP logs in with USER powers only, and is told to enrol", async () => {
    const admin = await userWithRole("ADMIN");
    const tokens = await login(admin.wallet);
    expect(tokens).toMatchObject({ effectiveRole: "USER", secondFactor: "enrolment-required", user: { role: "ADMIN" } });
    expect((await getAuthed("/api/v1/users", tokens.accessToken)).status).toBe(403);
  });

  it("once enrolled, an ADMIN login without a code is refused; with a code it carries ADMIN", async () => {
    const admin = await userWithRole("ADMIN");
    const { accessToken } = await login(admin.wallet);
    const enrol = await postJson("/api/v1/auth/totp/enrol", {}, { token: accessToken });
    const { secret, otpauthUri } = (await enrol.json()) as { secret: string; otpauthUri: string };
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Lucid:T[1-9A-Za-z]{33}\?secret=[A-Z2-7]+&issuer=Lucid/);
    // A wrong first code does not enrol.
    const wrong = String((Number(totpCode(secret, Date.now() / 1000)) + 1) % 1_000_000).padStart(6, "0");
    expect((await postJson("/api/v1/auth/totp/confirm", { code: wrong }, { token: accessToken })).status).toBe(400);
    const confirm = await postJson("/api/v1/auth/totp/confirm", { code: totpCode(secret, Date.now() / 1000) }, { token: accessToken });
    expect(confirm.status).toBe(200);
    expect(((await confirm.json()) as { recoveryCodes: string[] }).recoveryCodes).toHaveLength(10);

    const without = await attemptLogin(admin.wallet);
    expect(without.status).toBe(401);
    expect(await problemOf(without)).toMatchObject({ secondFactor: "required" });

    const tokens = await login(admin.wallet, { totpCode: nextCode(secret) });
    expect(tokens).toMatchObject({ effectiveRole: "ADMIN", secondFactor: "passed" });
    expect((await getAuthed("/api/v1/users", tokens.accessToken)).status).toBe(200);
    // Re-enrolling (swapping the secret) is refused once confirmed.
    expect((await postJson("/api/v1/auth/totp/enrol", {}, { token: tokens.accessToken })).status).toBe(409);
  });

  it("refuses a replayed TOTP code, and any code for an earlier step", async () => {
    const admin = await userWithRole("ADMIN");
    const { secret } = await enrolTotp((await login(admin.wallet)).accessToken);
    const code = nextCode(secret);
    expect((await attemptLogin(admin.wallet, { totpCode: code })).status).toBe(200);
    const replay = await attemptLogin(admin.wallet, { totpCode: code });
    expect(replay.status).toBe(401);
    expect(await problemOf(replay)).toMatchObject({ secondFactor: "required" });
    expect((await attemptLogin(admin.wallet, { totpCode: totpCode(secret, Date.now() / 1000) })).status).toBe(401);
  });

  it("recovery codes work once each, in any formatting", async () => {
    const admin = await userWithRole("ADMIN");
    const { recoveryCodes } = await enrolTotp((await login(admin.wallet)).accessToken);
    const code = recoveryCodes[0]!;
    const tokens = await login(admin.wallet, { recoveryCode: code.toLowerCase() });
    expect(tokens.effectiveRole).toBe("ADMIN");
    expect((await attemptLogin(admin.wallet, { recoveryCode: code })).status).toBe(401);
    expect((await attemptLogin(admin.wallet, { recoveryCode: recoveryCodes[1]!.replaceAll("-", "") })).status).toBe(200);
    const status = (await (await getAuthed("/api/v1/auth/totp", tokens.accessToken)).json()) as {
      enrolled: boolean;
      recoveryCodesLeft: number;
    };
    expect(status).toEqual({ enrolled: true, recoveryCodesLeft: 8 });
  });

  it("a refreshed ADMIN session keeps what its login earned", async () => {
    const admin = await userWithRole("ADMIN");
    const capped = await login(admin.wallet);
    const { secret } = await enrolTotp(capped.accessToken);
    const refreshedCapped = (await (await postJson("/api/v1/auth/refresh", { refreshToken: capped.refreshToken })).json()) as {
      effectiveRole: string;
    };
    expect(refreshedCapped.effectiveRole).toBe("USER");
    const full = await login(admin.wallet, { totpCode: nextCode(secret) });
    const refreshed = (await (await postJson("/api/v1/auth/refresh", { refreshToken: full.refreshToken })).json()) as {
      effectiveRole: string;
    };
    expect(refreshed.effectiveRole).toBe("ADMIN");
  });

  it("USERs are not asked for TOTP, even when they enrolled voluntarily", async () => {
    const user = await userWithRole("USER");
    const { accessToken } = await login(user.wallet);
    await enrolTotp(accessToken);
    expect((await login(user.wallet)).secondFactor).toBe("not-required");
  });
});

describe("new recovery codes once they run out", () => {
  const regenerate = (token: string, body: unknown) => postJson("/api/v1/auth/totp/recovery-codes", body, { token });

  it("a current TOTP code buys 10 fresh codes: the old ones stop working, the new ones work once; audited", async () => {
    const admin = await userWithRole("ADMIN");
    const { secret, recoveryCodes: old } = await enrolTotp((await login(admin.wallet)).accessToken);
    const tokens = await login(admin.wallet, { recoveryCode: old[0]! });
    const code = nextCode(secret);
    const res = await regenerate(tokens.accessToken, { totpCode: code });
    expect(res.status).toBe(200);
    const { recoveryCodes: fresh } = (await res.json()) as { recoveryCodes: string[] };
    expect(fresh).toHaveLength(10);
    expect(new Set(fresh).size).toBe(10);
    expect(fresh.some((c) => old.includes(c))).toBe(false);
    expect(await (await getAuthed("/api/v1/auth/totp", tokens.accessToken)).json()).toEqual({ enrolled: true, recoveryCodesLeft: 10 });
    expect((await attemptLogin(admin.wallet, { recoveryCode: old[1]! })).status).toBe(401);
    expect((await attemptLogin(admin.wallet, { recoveryCode: fresh[0]! })).status).toBe(200);
    expect((await attemptLogin(admin.wallet, { recoveryCode: fresh[0]! })).status).toBe(401);
    // The TOTP code was spent by the regeneration.
    expect((await problemOf(await regenerate(tokens.accessToken, { totpCode: code }))).type).toBe("/problems/second-factor-required");
    const audit = testEnv.AUDIT.get(testEnv.AUDIT.idFromName("audit"));
    const events = await audit.list({ limit: 20, action: "auth.recovery_codes_regenerate" });
    expect(events.filter((e) => e.actorId === admin.id).map((e) => e.outcome)).toEqual(["failure", "success"]);
  });

  it("a recovery code cannot mint new ones (400, the code stays unspent); without TOTP there is nothing to regenerate", async () => {
    const admin = await userWithRole("ADMIN");
    const { recoveryCodes } = await enrolTotp((await login(admin.wallet)).accessToken);
    const tokens = await login(admin.wallet, { recoveryCode: recoveryCodes[0]! });
    const refused = await regenerate(tokens.accessToken, { recoveryCode: recoveryCodes[1]! });
    expect(refused.status).toBe(400);
    expect((await problemOf(refused)).type).toBe("/problems/validation-failed");
    expect((await regenerate(tokens.accessToken, { totpCode: "000000", recoveryCode: recoveryCodes[1]! })).status).toBe(400);
    expect((await attemptLogin(admin.wallet, { recoveryCode: recoveryCodes[1]! })).status).toBe(200);
    const user = await userWithRole("USER");
    const notEnrolled = await regenerate(user.tokens.accessToken, { totpCode: "123456" });
    expect((await problemOf(notEnrolled)).type).toBe("/problems/second-factor-required");
  });
});
