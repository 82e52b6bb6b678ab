import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, adminSend, steppedUpAdmin } from "./admin-helpers.ts";
import { getAuthed, grantRole, postJson, superAdminLogin } from "./auth-helpers.ts";
import { api, problemOf } from "./helpers.ts";

const auditDO = () => env.AUDIT.get(env.AUDIT.idFromName("audit"));
const PASSPHRASE = "correct horse battery staple";

function exportKeys(token: string, body: Record<string, unknown>, key: string = crypto.randomUUID()) {
  return api("/api/v1/payments/wallets/backup", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify(body),
  });
}

function approvePayout(token: string) {
  return api(`/api/v1/payments/payouts/${crypto.randomUUID()}/approve`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
    body: "{}",
  });
}

function lockdown(token: string, factor: Record<string, string>) {
  return adminSend("POST", "/api/v1/admin/emergency/lockdown", { active: true, reason: "step-up drill", ...factor }, token);
}

async function alertKeys(token: string): Promise<string[]> {
  const res = await adminGet("/api/v1/admin/alerts?limit=200", token);
  expect(res.status).toBe(200);
  return (await res.json<{ items: { key: string }[] }>()).items.map((a) => a.key);
}

/** The bootstrap SUPER_ADMIN changes `id`'s role (with its second factor). */
async function setRole(id: string, role: "USER" | "ADMIN") {
  expect((await grantRole(id, role)).status).toBe(200);
}

describe("step-up codes are throttled like logins", () => {
  it("five wrong codes (TOTP or recovery) are refused; the 6th attempt gets 429 with Retry-After, even with a right code, and is alerted", async () => {
    const a = await steppedUpAdmin();
    const wrong: Record<string, string>[] = [
      { totpCode: "000000" },
      { recoveryCode: "AAAA-BBBB-CCCC-DDDD" },
      { totpCode: "000000" },
      { recoveryCode: "EEEE-FFFF-GGGG-HHHH" },
      { totpCode: "000000" },
    ];
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

describe("hot-wallet key export", { timeout: 60_000 }, () => {
  it("a SUPER_ADMIN with a fresh TOTP code exports; it is audited and alerted, and never replayed", async () => {
    const sa = await steppedUpAdmin("SUPER_ADMIN");
    const key = crypto.randomUUID();
    const body = { passphrase: PASSPHRASE, ...sa.totp() };
    const res = await exportKeys(sa.token, body, key);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ format: "lucid-wallet-backup", cipher: "AES-256-GCM" });
    const events = await auditDO().list({ limit: 10, action: "wallets.backup_export", outcome: "success" });
    expect(events.some((e) => e.actorId === sa.id)).toBe(true);
    expect(await alertKeys(sa.token)).toContain("wallets:backup-export");
    // The same request again is not answered from the idempotency store: the spent code is refused.
    const again = await exportKeys(sa.token, body, key);
    expect(again.headers.get("Idempotent-Replayed")).toBeNull();
    expect((await problemOf(again)).type).toBe("/problems/second-factor-required");
  });

  it("refuses an export without TOTP, with a recovery code or a wrong code, and by an ADMIN; then the per-user quota", async () => {
    const admin = await steppedUpAdmin("ADMIN");
    const byAdmin = await exportKeys(admin.token, { passphrase: PASSPHRASE, ...admin.totp() });
    expect(byAdmin.status).toBe(403);
    expect((await problemOf(byAdmin)).type).toBe("/problems/forbidden");

    const sa = await steppedUpAdmin("SUPER_ADMIN");
    expect((await problemOf(await exportKeys(sa.token, { passphrase: PASSPHRASE }))).type).toBe("/problems/validation-failed");
    expect((await problemOf(await exportKeys(sa.token, { passphrase: PASSPHRASE, ...sa.recovery() }))).type).toBe(
      "/problems/validation-failed",
    );
    expect((await problemOf(await exportKeys(sa.token, { passphrase: PASSPHRASE, totpCode: "000000" }))).type).toBe(
      "/problems/second-factor-required",
    );
    // WALLET_EXPORTS_PER_HOUR (3 in wrangler.toml) attempts an hour: the 4th is refused, right code or not.
    const fourth = await exportKeys(sa.token, { passphrase: PASSPHRASE, ...sa.totp() });
    expect(fourth.status).toBe(429);
    expect(await problemOf(fourth)).toMatchObject({ type: "/problems/rate-limited", limit: 3 });
  });

  it("a demoted admin's token is refused at once: for the export, then (demoted further) for emergency controls and wallets", async () => {
    const sa = await steppedUpAdmin("SUPER_ADMIN");
    await setRole(sa.id, "ADMIN");
    const refused = await exportKeys(sa.token, { passphrase: PASSPHRASE, ...sa.totp() });
    expect(refused.status).toBe(403);
    expect((await problemOf(refused)).detail).toMatch(/"wallets:export".*ADMIN/);
    await setRole(sa.id, "USER");
    expect((await problemOf(await lockdown(sa.token, sa.recovery()))).type).toBe("/problems/forbidden");
    const wallet = await api("/api/v1/payments/wallets", {
      method: "POST",
      headers: { Authorization: `Bearer ${sa.token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({ kind: "hot", label: "x" }),
    });
    expect(wallet.status).toBe(403);
    expect((await approvePayout(sa.token)).status).toBe(403);
    const stale = await auditDO().list({ limit: 20, action: "auth.stale_privilege" });
    expect(stale.some((e) => e.actorId === sa.id && e.details.reason === "role-lowered")).toBe(true);
  });

  it("an admin whose sessions were revoked is refused at once (401), for the export and for role changes", async () => {
    const sa = await steppedUpAdmin("SUPER_ADMIN");
    const boss = await superAdminLogin();
    expect((await getAuthed(`/api/v1/users/${sa.id}/sessions`, boss.accessToken, "DELETE")).status).toBe(200);
    const refused = await exportKeys(sa.token, { passphrase: PASSPHRASE, ...sa.totp() });
    expect(refused.status).toBe(401);
    expect((await problemOf(refused)).type).toBe("/problems/unauthorized");
    expect((await postJson(`/api/v1/users/${boss.user.id}/role`, { role: "USER" }, { token: sa.token, method: "PUT" })).status).toBe(401);
    expect((await lockdown(sa.token, sa.recovery())).status).toBe(401);
    expect((await approvePayout(sa.token)).status).toBe(401);
    // Reads stay cheap: they trust the token until it expires.
    expect((await adminGet("/api/v1/admin/emergency", sa.token)).status).toBe(200);
  });
});
