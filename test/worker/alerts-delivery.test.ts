import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it, vi } from "vitest";
import type {} from "../alert-receiver/global-setup.ts";
import { DEFAULT_SYSTEM_CONFIG } from "../../shared/admin.ts";
import { signWebhook, verifyWebhook } from "../../shared/alert-rules.ts";
import { stallChain } from "./chain-helpers.ts";
import { api, tokenFor } from "./helpers.ts";
import { poolStub, TestNode } from "./node-agent.ts";

/**
 * Alerts leave the building: rules open and resolve alerts, and each change reaches a real HTTP
 * receiver on loopback (test/alert-receiver/, which verifies the signature) and the mail outbox.
 */
const admin = () => env.ADMIN.get(env.ADMIN.idFromName("admin"));
const ledger = () => env.LEDGER.get(env.LEDGER.idFromName("ledger"));
const chain = () => env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
const outbox = () => env.MAIL_OUTBOX.get(env.MAIL_OUTBOX.idFromName("outbox"));
const asAdmin = async () => ({ Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "ADMIN")}` });
const WAIT = { timeout: 20_000, interval: 100 };

async function receiver<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${inject("alertReceiverUrl")}/__receiver/${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`receiver ${path}: ${res.status}`);
  return res.json<T>();
}
type Received = {
  accepted: {
    event: string;
    signature: string;
    body: { event: string; alert: { id: string; key: string; rule: string; state: string } };
  }[];
  refused: { reason: string }[];
};
const received = (match: string) => receiver<Received>("received", { match });

type Alert = { id: string; key: string; state: string; resolvedBy: string | null };
async function alertsWithKey(key: string): Promise<Alert[]> {
  const res = await api("/api/v1/admin/alerts?limit=200", { headers: await asAdmin() });
  expect(res.status).toBe(200);
  return (await res.json<{ items: Alert[] }>()).items.filter((a) => a.key === key);
}

/** The alert reached the receiver (signature verified there) and the mail outbox, for `event`. */
async function expectDelivered(alert: Alert, event: "raised" | "resolved") {
  await vi.waitFor(async () => {
    const { accepted } = await received(alert.id);
    expect(accepted.map((r) => r.event)).toContain(`alert.${event}`);
    const mail = (await outbox().list(200)).filter((m) => m.to === "ops@lucid.test" && m.text.includes(alert.key));
    expect(mail.some((m) => m.subject.includes(event))).toBe(true);
  }, WAIT);
}

async function setAlertsConfig(patch: Partial<typeof DEFAULT_SYSTEM_CONFIG.alerts>) {
  const current = await admin().config();
  const result = await admin().updateConfig(
    { ...current.config, alerts: { ...current.config.alerts, ...patch } },
    current.version,
    "test",
    "test thresholds",
  );
  expect(result.ok).toBe(true);
}

describe("webhook signatures", () => {
  it("verify over timestamp.body; a changed body, another secret or an old timestamp fail", async () => {
    const body = JSON.stringify({ event: "raised" });
    const now = Math.floor(Date.now() / 1000);
    const header = await signWebhook("secret-a-0123456789abcdef0123456789abcdef", now, body);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(await verifyWebhook("secret-a-0123456789abcdef0123456789abcdef", header, body, now)).toBe(true);
    expect(await verifyWebhook("secret-a-0123456789abcdef0123456789abcdef", header, body.replace("raised", "resolved"), now)).toBe(false);
    expect(await verifyWebhook("secret-b-0123456789abcdef0123456789abcdef", header, body, now)).toBe(false);
    expect(await verifyWebhook("secret-a-0123456789abcdef0123456789abcdef", header, body, now + 301)).toBe(false);
    expect(await verifyWebhook("secret-a-0123456789abcdef0123456789abcdef", null, body, now)).toBe(false);
  });
});

describe("alert delivery", () => {
  it("a raised alert reaches the signed webhook and the mail outbox once, however often it repeats", async () => {
    const key = `integrity:test:${crypto.randomUUID()}`;
    const first = await admin().raiseAlert({
      key,
      severity: "critical",
      source: "integrity",
      title: "A chunk's hash does not match its manifest",
    });
    await admin().raiseAlert({ key, severity: "critical", source: "integrity", title: "A chunk's hash does not match its manifest" });
    expect(first.created).toBe(true);
    await expectDelivered(first.alert, "raised");
    const { accepted } = await received(first.alert.id);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.body).toMatchObject({ event: "raised", alert: { key, rule: "integrity_failure", state: "open" } });

    const res = await api(`/api/v1/admin/alerts/deliveries?alertId=${first.alert.id}`, { headers: await asAdmin() });
    expect(res.status).toBe(200);
    const { items } = await res.json<{ items: { channel: string; state: string; attempts: number; target: string; event: string }[] }>();
    expect(items.map((d) => [d.channel, d.state, d.attempts, d.event]).sort()).toEqual([
      ["mail", "delivered", 1, "raised"],
      ["webhook", "delivered", 1, "raised"],
    ]);
  });

  it("a receiver that fails twice gets the alert on the third attempt, after back-off", async () => {
    await setAlertsConfig({ webhookBackoffSeconds: 1 });
    const key = `integrity:retry:${crypto.randomUUID()}`;
    await receiver("fail", { match: key, times: 2, status: 503 });
    const { alert } = await admin().raiseAlert({ key, severity: "warning", source: "integrity", title: "Retry me" });
    await vi.waitFor(async () => {
      const res = await api(`/api/v1/admin/alerts/deliveries?alertId=${alert.id}`, { headers: await asAdmin() });
      const webhook = (
        await res.json<{ items: { channel: string; state: string; attempts: number; lastStatus: number | null }[] }>()
      ).items.find((d) => d.channel === "webhook");
      expect(webhook).toMatchObject({ state: "delivered", attempts: 3, lastStatus: 200 });
    }, WAIT);
    const { accepted, refused } = await received(alert.id);
    expect(refused.map((r) => r.reason)).toEqual(["failing on purpose (503)", "failing on purpose (503)"]);
    expect(accepted).toHaveLength(1);
  });

  it("delivery log and evaluation are for ADMIN only", async () => {
    const res = await api("/api/v1/admin/alerts/deliveries", {
      headers: { Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "USER")}` },
    });
    expect(res.status).toBe(403);
    const bad = await api("/api/v1/admin/alerts/deliveries?state=lost", { headers: await asAdmin() });
    expect(bad.status).toBe(400);
  });
});

describe("alert rules", () => {
  it("TRON unreachable: tron:unavailable opens, is delivered, and resolves when TRON answers", async () => {
    await ledger().injectTronEndpoint("http://127.0.0.1:9");
    try {
      await admin().evaluateAlerts();
      const [alert] = await alertsWithKey("tron:unavailable");
      expect(alert).toMatchObject({ state: "open" });
      await expectDelivered(alert!, "raised");
      // Still unreachable: no second alert, no second delivery.
      expect((await admin().evaluateAlerts()).raised).not.toContain("tron:unavailable");
      expect(await alertsWithKey("tron:unavailable")).toHaveLength(1);
    } finally {
      await ledger().injectTronEndpoint(null);
    }
    await admin().evaluateAlerts();
    const [alert] = await alertsWithKey("tron:unavailable");
    expect(alert).toMatchObject({ state: "resolved", resolvedBy: "system" });
    await expectDelivered(alert!, "resolved");
  });

  it("chain producer stalled: chain:stalled opens, and resolves once blocks are made again", async () => {
    await stallChain("alert-stall", 8);
    await admin().evaluateAlerts();
    const [alert] = await alertsWithKey("chain:stalled");
    expect(alert).toMatchObject({ state: "open" });
    await expectDelivered(alert!, "raised");

    // The producer runs again: its alarm makes the owed block.
    await runInDurableObject(chain(), (_instance, state) => state.storage.setAlarm(Date.now()));
    await vi.waitFor(async () => expect((await chain().stats()).mempool).toBe(0), { timeout: 20_000, interval: 100 });
    await admin().evaluateAlerts();
    expect(await alertsWithKey("chain:stalled")).toEqual([expect.objectContaining({ state: "resolved", resolvedBy: "system" })]);
    await expectDelivered(alert!, "resolved");
  });

  it("a node that stops beating: node:offline:<id> opens, and resolves when it beats again", async () => {
    const node = new TestNode(crypto.randomUUID());
    expect((await node.register()).status).toBe(201);
    expect((await node.beat()).status).toBe(200);
    await runInDurableObject(poolStub(node.pool), (_instance, state) => {
      state.storage.sql.exec("UPDATE nodes SET last_heartbeat_at = ? WHERE id = ?", Date.now() - 3 * 60_000, node.id);
    });
    expect(await runDurableObjectAlarm(poolStub(node.pool))).toBe(true);
    const key = `node:offline:${node.id}`;
    await admin().evaluateAlerts();
    const [alert] = await alertsWithKey(key);
    expect(alert).toMatchObject({ state: "open" });
    await expectDelivered(alert!, "raised");

    expect((await node.beat()).status).toBe(200);
    await admin().evaluateAlerts();
    expect(await alertsWithKey(key)).toEqual([expect.objectContaining({ state: "resolved" })]);
    await expectDelivered(alert!, "resolved");
  });

  it("spool near full on a node opens node:spool:<id> at alerts.spoolFullPercent", async () => {
    await setAlertsConfig({ spoolFullPercent: 80 });
    const node = new TestNode(crypto.randomUUID());
    expect((await node.register()).status).toBe(201);
    const report = {
      cpuPercent: 1,
      memoryPercent: 1,
      diskPercent: 1,
      networkMbps: 1,
      sessionsHosted: 0,
      bytesRecorded: 0,
      accepting: true,
    };
    expect((await node.beat({ report: { ...report, spoolPercent: 85 } })).status).toBe(200);
    await admin().evaluateAlerts();
    expect(await alertsWithKey(`node:spool:${node.id}`)).toEqual([expect.objectContaining({ state: "open" })]);
    expect((await node.beat({ report: { ...report, spoolPercent: 10 } })).status).toBe(200);
    await admin().evaluateAlerts();
    expect(await alertsWithKey(`node:spool:${node.id}`)).toEqual([expect.objectContaining({ state: "resolved" })]);
  });

  it("emergency lockdown opens emergency:lockdown at once and resolves when lifted", async () => {
    await admin().setEmergency("lockdown", true, "admin-1", "drill");
    expect(await alertsWithKey("emergency:lockdown")).toEqual([expect.objectContaining({ state: "open" })]);
    await admin().setEmergency("lockdown", false, "admin-1", "drill over");
    expect(await alertsWithKey("emergency:lockdown")).toEqual([expect.objectContaining({ state: "resolved", resolvedBy: "admin-1" })]);
  });

  it("every rule has its lucid_alerts_open series", async () => {
    await admin().raiseAlert({ key: `integrity:metric:${crypto.randomUUID()}`, severity: "warning", source: "integrity", title: "metric" });
    const res = await api("/api/v1/system/metrics", { headers: await asAdmin() });
    const text = await res.text();
    for (const rule of [
      "chain_stalled",
      "tron_unavailable",
      "payout_failed",
      "reconciliation_mismatch",
      "node_offline",
      "integrity_failure",
      "spool_full",
      "lockdown",
    ]) {
      expect(text).toMatch(new RegExp(`^lucid_alerts_open\\{rule="${rule}"\\} \\d+$`, "m"));
    }
    expect(text).toMatch(/^lucid_alerts_open\{rule="integrity_failure"\} [1-9]/m);
    expect(text).toContain("# TYPE lucid_alerts_open gauge");
  });
});
