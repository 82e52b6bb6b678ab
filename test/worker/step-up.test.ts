import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, adminSend, steppedUpAdmin } from "./admin-helpers.ts";
import { problemOf } from "./helpers.ts";

const auditDO = () => env.AUDIT.get(env.AUDIT.idFromName("audit"));

function lockdown(token: string, factor: Record<string, string>) {
  return adminSend("POST", "/api/v1/admin/emergency/lockdown", { active: true, reason: "step-up drill", ...factor }, token);
}

async function alertKeys(token: string): Promise<string[]> {
  const res = await adminGet("/api/v1/admin/alerts?limit=200", token);
  expect(res.status).toBe(200);
  return (await res.json<{ items: { key: string }[] }>()).items.map((a) => a.key);
}

describe("step-up codes are throttled like logins", () => {
  it("five wrong codes (TOTP or recovery) are refused; the 6th attempt gets 429 with Retry-After, even with a right code, and is alerted", async () => {
    const a = await steppedUpAdmin();
    const wrong: Record<string, string>[] = [{ totpCode: "000000" }, { recoveryCode: "AAAA-BBBB-CCCC-DDDD" }, { totpCode: "000000" }, { recoveryCode: "EEEE-FFFF-GGGG-HHHH" }, { totpCode: "000000" }];
    for (const factor of wrong) {
      expect((await problemOf(await lockdown(a.token, factor))).type, JSON.stringify(factor)).toBe("/problems/second-factor-required");
    }
    const sixth = await lockdown(a.token, a.totp());
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await problemOf(sixth)).toMatchObject({ type: "/problems/step-up-throttled" });
    const state = await (await adminGet("/api/v1/admin/emergency", a.token)).json<{ lockdown: { active: boolean } }>();
    expect(state.lockdown.active).toBe(false);
    // The throttle is per user: another admin's code still works; every admin sees the alert.
    const other = await steppedUpAdmin();
    expect(await alertKeys(other.token)).toContain(`step-up:${a.id}`);
    const throttled = await auditDO().list({ limit: 20, action: "emergency.lockdown", outcome: "failure" });
    expect(throttled.some((e) => e.actorId === a.id && e.details.reason === "step-up-throttled")).toBe(true);
  });
});
