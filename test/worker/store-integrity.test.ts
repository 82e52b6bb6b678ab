// Tamper detection at rest for the chain's stored blocks and the audit log: AdminDO re-verifies
// both on the scrub schedule (durable-objects/admin/integrity.ts), alerts and audits a mismatch,
// and shows admins the last result (GET /api/v1/admin/integrity).
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { audit } from "../../functions/audit.ts";
import { api } from "./helpers.ts";
import { userHeaders } from "./session-helpers.ts";

const adminDO = () => env.ADMIN.get(env.ADMIN.idFromName("admin"));
const auditDO = () => env.AUDIT.get(env.AUDIT.idFromName("audit"));
const chain = () => env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));

interface CheckJson {
  target: "chain" | "audit";
  at: string | null;
  source: string | null;
  ok: boolean | null;
  checked: number | null;
  firstBad: number | null;
  fault: string | null;
  nextDueAt: string | null;
}

async function checks(role: "ADMIN" | "USER" = "ADMIN"): Promise<Record<"chain" | "audit", CheckJson>> {
  const res = await api("/api/v1/admin/integrity", { headers: await userHeaders(`store-checker-${role}`, role) });
  expect(res.status).toBe(200);
  const { items } = (await res.json()) as { items: CheckJson[] };
  return { chain: items.find((i) => i.target === "chain")!, audit: items.find((i) => i.target === "audit")! };
}

/** Runs AdminDO's alarm until both stores have a row due after `after` (a run by hand may meet the object's own alarm running). */
async function alarmUntilDueAfter(after: number): Promise<void> {
  await vi.waitFor(async () => {
    await runDurableObjectAlarm(adminDO());
    const due = await runInDurableObject(adminDO(), (_i, state) =>
      state.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM store_checks").toArray(),
    );
    expect(due.length).toBe(2);
    for (const row of due) expect(row.due_at).toBeGreaterThan(after);
  });
}

/** Makes the scheduled checks due, then runs AdminDO's alarm as the runtime would. */
async function scheduledRun(): Promise<void> {
  await runInDurableObject(adminDO(), (_i, state) => state.storage.sql.exec("UPDATE store_checks SET due_at = 0"));
  await alarmUntilDueAfter(Date.now() + 86_400_000);
}

const alert = async (key: string) => (await adminDO().listAlerts({ limit: 200 })).find((a) => a.key === key);
const audits = async (action: string) => auditDO().list({ limit: 20, action });

async function produceBlock(sessionId: string): Promise<void> {
  await chain().submit([{ type: "anchor", sessionId, root: "cd".repeat(32), chunkCount: 1, owner: "u", node: "n", interim: false }]);
  await runInDurableObject(chain(), async (instance) => {
    const head = await instance.head();
    const { timing } = await instance.info();
    return instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
  });
}

describe("scheduled integrity checks of the chain and the audit log", { timeout: 60_000 }, () => {
  it("runs on the scrub schedule; a flipped byte in a stored audit entry and in a stored block is found, alerted and audited", async () => {
    await produceBlock("store-check-1");
    await audit(env, { action: "test.victim", outcome: "success", details: { amount: "5" } });
    await audit(env, { action: "test.after", outcome: "success" });
    // The first alarm only schedules the checks, INTEGRITY_SCRUB_INTERVAL_SECONDS ahead.
    await adminDO().storeChecks();
    await alarmUntilDueAfter(Date.now() + 86_400_000);
    const first = await checks();
    expect(first.audit).toMatchObject({ at: null, ok: null });
    expect(Date.parse(first.chain.nextDueAt!)).toBeGreaterThan(Date.now() + 86_400_000);
    expect((await api("/api/v1/admin/integrity", { headers: await userHeaders("store-checker-user", "USER") })).status).toBe(403);

    await scheduledRun();
    const clean = await checks();
    expect(clean.audit).toMatchObject({ source: "schedule", ok: true, firstBad: null });
    expect(clean.audit.checked).toBeGreaterThanOrEqual(2);
    expect(clean.chain).toMatchObject({ source: "schedule", ok: true });
    expect(clean.chain.checked).toBeGreaterThanOrEqual(1);
    expect(Date.parse(clean.audit.nextDueAt!)).toBeGreaterThan(Date.now() + 86_400_000);
    expect((await audits("audit.integrity_check"))[0]).toMatchObject({ outcome: "success" });

    // One byte of a stored audit entry and one of a stored block's signature change behind their owners' backs.
    const victim = (await auditDO().list({ limit: 5, action: "test.victim" }))[0]!;
    await runInDurableObject(auditDO(), (_i, state) =>
      state.storage.sql.exec("UPDATE audit_events SET details = replace(details, '\"5\"', '\"6\"') WHERE id = ?", victim.id),
    );
    await runInDurableObject(chain(), (_i, state) =>
      state.storage.sql.exec(
        "UPDATE blocks SET signature = (CASE substr(signature, 1, 1) WHEN '0' THEN '1' ELSE '0' END) || substr(signature, 2) WHERE height = 1",
      ),
    );
    await scheduledRun();
    const found = await checks();
    expect(found.audit).toMatchObject({ source: "schedule", ok: false, firstBad: victim.id, fault: "hash-mismatch" });
    expect(found.chain).toMatchObject({ source: "schedule", ok: false, firstBad: 1 });
    expect(await alert("integrity:audit")).toMatchObject({ severity: "critical", source: "integrity", state: "open" });
    expect(await alert("integrity:chain")).toMatchObject({ severity: "critical", source: "integrity", state: "open" });
    expect((await audits("audit.integrity_check"))[0]).toMatchObject({ outcome: "failure", details: { firstBad: victim.id } });
    expect((await audits("chain.integrity_check"))[0]).toMatchObject({ outcome: "failure", details: { firstBad: 1 } });

    // An admin can run one now too; it reports the same.
    const now = await api("/api/v1/admin/integrity/audit", { method: "POST", headers: await userHeaders("store-checker-ADMIN", "ADMIN") });
    expect(now.status).toBe(200);
    expect(await now.json()).toMatchObject({ source: "request", ok: false, firstBad: victim.id });
  });
});
