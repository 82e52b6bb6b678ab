import { describe, expect, it } from "vitest";
import { adminGet, steppedUpAdmin } from "./admin-helpers.ts";
import { testEnv as env, getAuthed, postJson, superAdminFactor, superAdminLogin, userWithRole } from "./auth-helpers.ts";
import { problemOf } from "./helpers.ts";

const auditDO = () => env.AUDIT.get(env.AUDIT.idFromName("audit"));

const setRole = (id: string, role: string, token: string, factor: { totpCode?: string; recoveryCode?: string } = {}) =>
  postJson(`/api/v1/users/${id}/role`, { role, ...factor }, { token, method: "PUT" });

async function roleOf(id: string): Promise<string> {
  const sa = await superAdminLogin();
  return ((await (await getAuthed(`/api/v1/users/${id}`, sa.accessToken)).json()) as { role: string }).role;
}

async function expectSecondFactorRequired(res: Response): Promise<void> {
  expect(res.status).toBe(403);
  expect(await problemOf(res)).toMatchObject({ type: "/problems/second-factor-required", secondFactor: "required" });
}

describe("a stolen SUPER_ADMIN token cannot hand out authority", () => {
  it("the token alone cannot grant ADMIN or SUPER_ADMIN nor demote an ADMIN: 403, nothing changes, each audited", async () => {
    const sa = await superAdminLogin();
    const user = await userWithRole("USER");
    const admin = await userWithRole("ADMIN");
    const attempts: [string, string][] = [
      [user.id, "ADMIN"],
      [user.id, "SUPER_ADMIN"],
      [admin.id, "USER"],
      [admin.id, "NODE_OPERATOR"],
      [admin.id, "SUPER_ADMIN"],
    ];
    for (const [id, role] of attempts) await expectSecondFactorRequired(await setRole(id, role, sa.accessToken));
    expect(await roleOf(user.id)).toBe("USER");
    expect(await roleOf(admin.id)).toBe("ADMIN");
    const events = await auditDO().list({ limit: 50, action: "users.role_change", outcome: "failure" });
    const missing = events.filter(
      (e) => e.actorId === sa.user.id && [user.id, admin.id].includes(e.targetId ?? "") && e.details.reason === "second-factor-missing",
    );
    expect(missing).toHaveLength(attempts.length);
    // USER ⇄ NODE_OPERATOR (routine operator onboarding) needs no code.
    expect((await setRole(user.id, "NODE_OPERATOR", sa.accessToken)).status).toBe(200);
    expect((await setRole(user.id, "USER", sa.accessToken)).status).toBe(200);
    // Both factors at once is a malformed request.
    expect((await setRole(user.id, "ADMIN", sa.accessToken, { totpCode: "000000", recoveryCode: "AAAA-BBBB-CCCC-DDDD" })).status).toBe(400);
  });

  it("a wrong code changes nothing and is audited; an ADMIN with a right code still gets 403 forbidden", async () => {
    const boss = await steppedUpAdmin("SUPER_ADMIN");
    const user = await userWithRole("USER");
    await expectSecondFactorRequired(await setRole(user.id, "ADMIN", boss.token, { totpCode: "000000" }));
    await expectSecondFactorRequired(await setRole(user.id, "SUPER_ADMIN", boss.token, { recoveryCode: "AAAA-BBBB-CCCC-DDDD" }));
    expect(await roleOf(user.id)).toBe("USER");
    const events = await auditDO().list({ limit: 50, action: "users.role_change", outcome: "failure" });
    expect(events.filter((e) => e.actorId === boss.id && e.targetId === user.id && e.details.reason === "bad-second-factor")).toHaveLength(
      2,
    );

    const admin = await steppedUpAdmin("ADMIN");
    const forbidden = await setRole(user.id, "ADMIN", admin.token, admin.recovery());
    expect(forbidden.status).toBe(403);
    expect((await problemOf(forbidden)).type).toBe("/problems/forbidden");
    expect(await roleOf(user.id)).toBe("USER");
  });

  it("with a right TOTP code the grant works once; the replayed code is refused; a recovery code works once", async () => {
    const boss = await steppedUpAdmin("SUPER_ADMIN");
    const a = await userWithRole("USER");
    const b = await userWithRole("USER");
    const totp = boss.totp();
    const granted = await setRole(a.id, "ADMIN", boss.token, totp);
    expect(granted.status).toBe(200);
    expect(await granted.json()).toMatchObject({ id: a.id, role: "ADMIN" });
    const success = await auditDO().list({ limit: 50, action: "users.role_change", outcome: "success" });
    expect(success.find((e) => e.actorId === boss.id && e.targetId === a.id)?.details).toMatchObject({
      from: "USER",
      to: "ADMIN",
      secondFactor: "totp",
    });
    await expectSecondFactorRequired(await setRole(b.id, "ADMIN", boss.token, totp));
    expect(await roleOf(b.id)).toBe("USER");

    const recovery = boss.recovery();
    expect((await setRole(a.id, "USER", boss.token, recovery)).status).toBe(200);
    await expectSecondFactorRequired(await setRole(b.id, "SUPER_ADMIN", boss.token, recovery));
    expect(await roleOf(a.id)).toBe("USER");
    expect(await roleOf(b.id)).toBe("USER");
  });

  it("wrong codes are throttled like other step-ups: then even a right code gets 429, and every admin is alerted", async () => {
    const boss = await steppedUpAdmin("SUPER_ADMIN");
    const user = await userWithRole("USER");
    for (const factor of [
      { totpCode: "000000" },
      { recoveryCode: "AAAA-BBBB-CCCC-DDDD" },
      { totpCode: "000000" },
      { recoveryCode: "EEEE-FFFF-GGGG-HHHH" },
      { totpCode: "000000" },
    ]) {
      await expectSecondFactorRequired(await setRole(user.id, "ADMIN", boss.token, factor));
    }
    const sixth = await setRole(user.id, "ADMIN", boss.token, boss.recovery());
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect((await problemOf(sixth)).type).toBe("/problems/step-up-throttled");
    expect(await roleOf(user.id)).toBe("USER");
    const sa = await superAdminLogin();
    const alerts = await (await adminGet("/api/v1/admin/alerts?limit=200", sa.accessToken)).json<{ items: { key: string }[] }>();
    expect(alerts.items.map((a) => a.key)).toContain(`step-up:${boss.id}`);
  });

  it("a SUPER_ADMIN out of recovery codes gets new ones with a TOTP code and keeps granting; the old ones are void", async () => {
    const sa = await superAdminLogin();
    const before = (await (await getAuthed("/api/v1/auth/totp", sa.accessToken)).json()) as { recoveryCodesLeft: number };
    // Take every code still unused (superAdminFactor regenerates once they are gone).
    const old = [];
    for (let i = 0; i < before.recoveryCodesLeft; i++) old.push(await superAdminFactor());
    const fresh = await superAdminFactor();
    expect(old.map((f) => f.recoveryCode)).not.toContain(fresh.recoveryCode);
    const user = await userWithRole("USER");
    if (old.length > 0) await expectSecondFactorRequired(await setRole(user.id, "ADMIN", sa.accessToken, old[0]));
    expect((await setRole(user.id, "ADMIN", sa.accessToken, fresh)).status).toBe(200);
    expect(await roleOf(user.id)).toBe("ADMIN");
  });
});
