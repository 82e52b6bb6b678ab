import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { raiseAlert } from "../../functions/admin/index.ts";
import { DEFAULT_ALERTS_CONFIG } from "../../shared/admin.ts";
import { createAccount } from "../../shared/tron/address.ts";
import { adminGet, adminSend, steppedUpAdmin } from "./admin-helpers.ts";
import { testEnv } from "./auth-helpers.ts";
import { api, problemOf, tokenFor } from "./helpers.ts";
import { TestNode } from "./node-agent.ts";
import { createSession, recordingSession } from "./session-helpers.ts";
import { fund } from "./tron-double.ts";

const auditDO = () => env.AUDIT.get(env.AUDIT.idFromName("audit"));
/** A real ADMIN login session (TOTP passed): admin writes check the caller's current role and session. */
const adminToken = async () => (await steppedUpAdmin()).token;

async function lastAudit(action: string) {
  const [event] = await auditDO().list({ limit: 1, action });
  return { ...event!, before: JSON.parse(event!.before ?? "null"), after: JSON.parse(event!.after ?? "null") };
}

const CONFIG = { lockdownMessage: "Down for maintenance.", healthAlertAfterFailures: 3, notificationHistory: 50 };

describe("admin API", () => {
  it("every admin route refuses anonymous callers, USER and NODE_OPERATOR", async () => {
    const res = await api("/api/v1/openapi.json");
    const doc = await res.json<{ paths: Record<string, Record<string, { "x-permission"?: string }>> }>();
    const routes = Object.entries(doc.paths).filter(([path]) => path.startsWith("/api/v1/admin"));
    expect(routes.length).toBeGreaterThanOrEqual(25);
    for (const [path, item] of routes) {
      for (const [method, op] of Object.entries(item)) {
        expect(["audit:read", "admin:read", "admin:manage", "emergency:control"], `${method} ${path}`).toContain(op["x-permission"]);
        const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) =>
          name === "address" ? createAccount().address : crypto.randomUUID(),
        );
        for (const role of [undefined, "USER", "NODE_OPERATOR"] as const) {
          const token = role ? await tokenFor(crypto.randomUUID(), role) : undefined;
          const r = await adminSend(method.toUpperCase(), concrete, method === "get" ? undefined : {}, token);
          expect(r.status, `${method} ${path} as ${role ?? "anonymous"}`).toBe(role ? 403 : 401);
        }
      }
    }
  });

  it("configuration: zod-validated, versioned, optimistic, audited with before/after, and rolled back", async () => {
    const token = await adminToken();
    const initial = await (await adminGet("/api/v1/admin/config", token)).json<{ version: number; config: typeof CONFIG }>();
    expect(initial.version).toBe(0);
    const put = await adminSend("PUT", "/api/v1/admin/config", { config: CONFIG, expectedVersion: 0, reason: "maintenance window" }, token);
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ version: 1, config: CONFIG, rollbackOf: null });
    const audited = await lastAudit("admin.config_update");
    expect(audited.before).toEqual(initial.config);
    // Stored with every field: the alert thresholds a request leaves out take their defaults.
    expect(audited.after).toEqual({ ...CONFIG, alerts: DEFAULT_ALERTS_CONFIG });

    // A stale version is a conflict; invalid values and shapes are 400; nothing changes.
    const stale = await problemOf(
      await adminSend("PUT", "/api/v1/admin/config", { config: CONFIG, expectedVersion: 0, reason: "again" }, token),
    );
    expect(stale).toMatchObject({ status: 409, type: "/problems/conflict" });
    for (const bad of [
      { config: { ...CONFIG, healthAlertAfterFailures: 0 }, expectedVersion: 1, reason: "zero" },
      { config: { ...CONFIG, healthAlertAfterFailures: 1.5 }, expectedVersion: 1, reason: "float" },
      { config: { ...CONFIG, extra: true }, expectedVersion: 1, reason: "extra" },
      { config: { lockdownMessage: "", healthAlertAfterFailures: 1, notificationHistory: 50 }, expectedVersion: 1, reason: "empty" },
      { config: CONFIG, expectedVersion: 1 },
      { config: CONFIG, expectedVersion: -1, reason: "negative" },
    ]) {
      expect((await problemOf(await adminSend("PUT", "/api/v1/admin/config", bad, token))).type, JSON.stringify(bad)).toBe(
        "/problems/validation-failed",
      );
    }
    const malformed = await api("/api/v1/admin/config", {
      method: "PUT",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: "{",
    });
    expect((await problemOf(malformed)).status).toBe(400);

    const second = { ...CONFIG, notificationHistory: 500 };
    expect(
      (await adminSend("PUT", "/api/v1/admin/config", { config: second, expectedVersion: 1, reason: "keep more" }, token)).status,
    ).toBe(200);
    const back = await adminSend(
      "POST",
      "/api/v1/admin/config/rollback",
      { version: 1, expectedVersion: 2, reason: "500 was too many" },
      token,
    );
    expect(back.status).toBe(200);
    expect(await back.json()).toMatchObject({ version: 3, config: CONFIG, rollbackOf: 1 });
    const rolled = await lastAudit("admin.config_rollback");
    expect(rolled.before).toEqual({ ...second, alerts: DEFAULT_ALERTS_CONFIG });
    expect(rolled.after).toEqual({ ...CONFIG, alerts: DEFAULT_ALERTS_CONFIG });
    expect(
      (
        await problemOf(
          await adminSend("POST", "/api/v1/admin/config/rollback", { version: 99, expectedVersion: 3, reason: "nope" }, token),
        )
      ).status,
    ).toBe(404);
    const versions = await (await adminGet("/api/v1/admin/config/versions", token)).json<{ items: { version: number }[] }>();
    expect(versions.items.map((v) => v.version)).toEqual([3, 2, 1]);
    // Back to defaults for the other tests (version 0 = built-in defaults).
    expect(
      (await adminSend("POST", "/api/v1/admin/config/rollback", { version: 0, expectedVersion: 3, reason: "defaults" }, token)).status,
    ).toBe(200);
  });

  it("alerts: raiseAlert de-duplicates by key; admins list, acknowledge and resolve them (audited); health checks raise and resolve their own", async () => {
    const first = await raiseAlert(testEnv, { key: "rdp:host-1:cpu", severity: "warning", source: "rdp-monitor", title: "CPU high" });
    const repeat = await raiseAlert(testEnv, {
      key: "rdp:host-1:cpu",
      severity: "critical",
      source: "rdp-monitor",
      title: "CPU very high",
    });
    expect(first.created).toBe(true);
    expect(repeat).toMatchObject({ created: false, alert: { id: first.alert.id, count: 2, severity: "critical" } });
    await expect(raiseAlert(testEnv, { key: "bad key!", severity: "warning", source: "x", title: "t" })).rejects.toThrow();

    const token = await adminToken();
    const open = await (await adminGet("/api/v1/admin/alerts?state=open", token)).json<{ items: { id: string; count: number }[] }>();
    expect(open.items.find((a) => a.id === first.alert.id)?.count).toBe(2);
    const ack = await adminSend("POST", `/api/v1/admin/alerts/${first.alert.id}/acknowledge`, {}, token);
    expect(await ack.json()).toMatchObject({ state: "acknowledged" });
    expect((await problemOf(await adminSend("POST", `/api/v1/admin/alerts/${first.alert.id}/acknowledge`, {}, token))).type).toBe(
      "/problems/invalid-state",
    );
    expect((await adminSend("POST", `/api/v1/admin/alerts/${first.alert.id}/resolve`, {}, token)).status).toBe(200);
    expect(await lastAudit("admin.alert_resolve")).toMatchObject({
      targetId: first.alert.id,
      before: { state: "acknowledged" },
      after: { state: "resolved" },
    });
    expect((await problemOf(await adminSend("POST", `/api/v1/admin/alerts/${crypto.randomUUID()}/resolve`, {}, token))).status).toBe(404);
    expect((await problemOf(await adminSend("POST", "/api/v1/admin/alerts/not-a-uuid/resolve", {}, token))).type).toBe(
      "/problems/validation-failed",
    );
    expect((await problemOf(await adminGet("/api/v1/admin/alerts?state=burning", token))).type).toBe("/problems/validation-failed");

    // Health: the default threshold is 2 failed checks in a row; a healthy check resolves it.
    const admin = env.ADMIN.get(env.ADMIN.idFromName("admin"));
    expect(await admin.observeHealth([{ name: "chunk-store", status: "down", detail: "disk gone" }])).toEqual({ raised: [], resolved: [] });
    expect(await admin.observeHealth([{ name: "chunk-store", status: "down", detail: "disk gone" }])).toEqual({
      raised: ["health:chunk-store"],
      resolved: [],
    });
    const raised = await (
      await adminGet("/api/v1/admin/alerts?state=open", token)
    ).json<{ items: { key: string; severity: string; source: string }[] }>();
    expect(raised.items.find((a) => a.key === "health:chunk-store")).toMatchObject({ severity: "critical", source: "health" });
    expect(await admin.observeHealth([{ name: "chunk-store", status: "up", detail: null }])).toEqual({
      raised: [],
      resolved: ["health:chunk-store"],
    });
    // The health report feeds it too: every function is up here, so nothing opens.
    expect((await api("/api/v1/system/services", { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    const after = await (await adminGet("/api/v1/admin/alerts?state=open", token)).json<{ items: { key: string }[] }>();
    expect(after.items.filter((a) => a.key.startsWith("health:"))).toEqual([]);
  });

  it("sessions: terminate stops a recording one and cancels one not yet started; finished ones are 409", async () => {
    const token = await adminToken();
    const owner = crypto.randomUUID();
    const recording = await recordingSession(owner, "node-t");
    const res = await adminSend("POST", `/api/v1/admin/sessions/${recording.id}/terminate`, { reason: "abuse report 7" }, token);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: recording.id, state: "processing" });
    expect(await lastAudit("admin.session_terminate")).toMatchObject({
      targetId: recording.id,
      before: { state: "recording" },
      after: { state: "processing" },
      details: { reason: "abuse report 7" },
    });
    const created = await createSession(owner, "node-t");
    expect(
      await (await adminSend("POST", `/api/v1/admin/sessions/${created.id}/terminate`, { reason: "not needed" }, token)).json(),
    ).toMatchObject({ state: "cancelled" });
    expect(
      (await problemOf(await adminSend("POST", `/api/v1/admin/sessions/${created.id}/terminate`, { reason: "again" }, token))).type,
    ).toBe("/problems/invalid-state");
    expect(
      (await problemOf(await adminSend("POST", `/api/v1/admin/sessions/${crypto.randomUUID()}/terminate`, { reason: "ghost" }, token)))
        .status,
    ).toBe(404);
    expect((await problemOf(await adminSend("POST", `/api/v1/admin/sessions/${created.id}/terminate`, {}, token))).type).toBe(
      "/problems/validation-failed",
    );
  });

  it("nodes: monitor all pools, suspend and reinstate with before/after in the audit log", async () => {
    const token = await adminToken();
    const node = new TestNode(`operator-${crypto.randomUUID()}`);
    expect((await node.register()).status).toBe(201);
    const listed = await (
      await adminGet("/api/v1/admin/nodes", token)
    ).json<{ nodes: { id: string; state: string }[]; byState: Record<string, number> }>();
    expect(listed.nodes.some((n) => n.id === node.id)).toBe(true);
    const suspended = await adminSend("POST", `/api/v1/admin/nodes/${node.id}/suspend`, { reason: "tampered agent" }, token);
    expect(await suspended.json()).toMatchObject({ id: node.id, state: "suspended" });
    expect(await lastAudit("admin.node_suspend")).toMatchObject({ targetId: node.id, after: { state: "suspended" } });
    const onlySuspended = await (await adminGet("/api/v1/admin/nodes?state=suspended", token)).json<{ nodes: { id: string }[] }>();
    expect(onlySuspended.nodes.map((n) => n.id)).toContain(node.id);
    // NodePoolDO's rule: suspending a suspended node changes nothing (and the record says so).
    expect(await (await adminSend("POST", `/api/v1/admin/nodes/${node.id}/suspend`, { reason: "twice" }, token)).json()).toMatchObject({
      state: "suspended",
    });
    expect(await lastAudit("admin.node_suspend")).toMatchObject({ before: { state: "suspended" }, after: { state: "suspended" } });
    const reinstated = await adminSend("POST", `/api/v1/admin/nodes/${node.id}/reinstate`, { reason: "agent reinstalled" }, token);
    expect(reinstated.status).toBe(200);
    expect(await lastAudit("admin.node_reinstate")).toMatchObject({ before: { state: "suspended" } });
    expect(
      (await problemOf(await adminSend("POST", `/api/v1/admin/nodes/node_${crypto.randomUUID()}/suspend`, { reason: "ghost" }, token)))
        .status,
    ).toBe(404);
    expect((await problemOf(await adminGet("/api/v1/admin/nodes?state=sleepy", token))).status).toBe(400);
    // The same change through the nodes API is caught by the gateway's safety net (admin.request).
    const direct = await adminSend("PUT", `/api/v1/nodes/${node.id}/suspension`, { suspended: true, reason: "via nodes API" }, token);
    expect(direct.status).toBe(200);
    const requestId = direct.headers.get("X-Request-Id");
    const [netted] = await auditDO().list({ limit: 1, action: "admin.request", requestId: requestId! });
    expect(netted).toMatchObject({
      outcome: "success",
      targetId: node.id,
      details: { method: "PUT", path: `/api/v1/nodes/${node.id}/suspension`, status: 200 },
    });
  });

  it("payouts: approve (with a second factor) and reject (LedgerDO rules), KYC flags, all audited; overview and chain status answer", async () => {
    const admin = await steppedUpAdmin();
    const token = admin.token;
    const pay = (method: string, path: string, body?: unknown) =>
      api(`/api/v1/payments${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const wallet = await (await pay("POST", "/wallets", { kind: "hot", label: "treasury" })).json<{ id: string; address: string }>();
    await fund(wallet.address, { trx: 10_000_000_000n, usdt: 1_000_000_000n });
    const a = await (await pay("POST", "/payouts", { recipient: createAccount().address, amount: "5" })).json<{ id: string }>();
    const b = await (await pay("POST", "/payouts", { recipient: createAccount().address, amount: "6" })).json<{ id: string }>();
    const pending = await (await adminGet("/api/v1/admin/payouts", token)).json<{ payouts: { id: string }[] }>();
    expect(pending.payouts.map((p) => p.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    // The admin token alone does not move money: no code is a 400, a wrong one 403, and nothing changes.
    expect((await problemOf(await adminSend("POST", `/api/v1/admin/payouts/${a.id}/approve`, { walletId: wallet.id }, token))).status).toBe(
      400,
    );
    const wrong = await adminSend("POST", `/api/v1/admin/payouts/${a.id}/approve`, { walletId: wallet.id, totpCode: "000000" }, token);
    expect((await problemOf(wrong)).type).toBe("/problems/second-factor-required");
    expect(await lastAudit("admin.payout_approve")).toMatchObject({
      targetId: a.id,
      outcome: "failure",
      details: { reason: "bad-second-factor" },
    });
    const approved = await adminSend("POST", `/api/v1/admin/payouts/${a.id}/approve`, { walletId: wallet.id, ...admin.totp() }, token);
    expect(await approved.json()).toMatchObject({ id: a.id, state: "approved" });
    expect(await lastAudit("admin.payout_approve")).toMatchObject({
      targetId: a.id,
      before: { state: "requested" },
      after: { state: "approved" },
    });
    expect((await adminSend("POST", `/api/v1/admin/payouts/${b.id}/reject`, { reason: "duplicate request" }, token)).status).toBe(200);
    expect((await problemOf(await adminSend("POST", `/api/v1/admin/payouts/${b.id}/approve`, admin.recovery(), token))).status).toBe(409);
    const unknown = `/api/v1/admin/payouts/${crypto.randomUUID()}/approve`;
    expect((await problemOf(await adminSend("POST", unknown, admin.recovery(), token))).status).toBe(404);
    expect((await problemOf(await adminSend("POST", `/api/v1/admin/payouts/${a.id}/reject`, { reason: "" }, token))).status).toBe(400);

    const recipient = createAccount().address;
    expect(
      await (await adminSend("PUT", `/api/v1/admin/kyc/${recipient}`, { verified: true, reason: "passport checked" }, token)).json(),
    ).toMatchObject({ address: recipient, verified: true });
    expect(await lastAudit("admin.kyc_set")).toMatchObject({ targetId: recipient, before: null, after: { verified: true } });
    await adminSend("PUT", `/api/v1/admin/kyc/${recipient}`, { verified: false, reason: "document expired" }, token);
    expect(await lastAudit("admin.kyc_set")).toMatchObject({ before: { verified: true }, after: { verified: false } });
    expect(
      (await problemOf(await adminSend("PUT", "/api/v1/admin/kyc/not-an-address", { verified: true, reason: "x y z" }, token))).status,
    ).toBe(400);

    const overview = await (
      await adminGet("/api/v1/admin/overview", token)
    ).json<{ payouts: { byState: Record<string, number> }; emergency: { lockdown: boolean }; chain: { height: number } }>();
    expect(overview.payouts.byState.approved).toBeGreaterThanOrEqual(1);
    expect(overview.emergency.lockdown).toBe(false);
    const chain = await (await adminGet("/api/v1/admin/chain", token)).json<{ chain: string; audit: { events: number } }>();
    expect(chain.chain).toBe("lucid-mainnet");
    expect(chain.audit.events).toBeGreaterThan(0);
  });
});
