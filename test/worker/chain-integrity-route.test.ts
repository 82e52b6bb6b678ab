// Tamper detection at rest for the chain's stored blocks: POST /api/v1/chain/integrity-check.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api } from "./helpers.ts";
import { env, userHeaders } from "./session-helpers.ts";

const chain = () => env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
const check = async (role: "USER" | "ADMIN") =>
  api("/api/v1/chain/integrity-check", { method: "POST", headers: await userHeaders(`chain-checker-${role}`, role) });

describe("chain integrity check", { timeout: 60_000 }, () => {
  it("ADMIN re-checks the stored blocks; an altered stored block is named, audited and alerted", async () => {
    await chain().submit([
      { type: "anchor", sessionId: "chain-check-1", root: "ab".repeat(32), chunkCount: 1, owner: "u", node: "n", interim: false },
    ]);
    await runInDurableObject(chain(), async (instance) => {
      const head = await instance.head();
      const { timing } = await instance.info();
      return instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
    });
    expect((await check("USER")).status).toBe(403);
    const clean = await check("ADMIN");
    expect(clean.status).toBe(200);
    const ok = (await clean.json()) as { ok: boolean; height: number };
    expect(ok).toMatchObject({ ok: true, fault: null });
    expect(ok.height).toBeGreaterThanOrEqual(1);

    // Someone edits the stored block's producer column behind the chain's back.
    await runInDurableObject(chain(), (_instance, state) =>
      state.storage.sql.exec("UPDATE blocks SET producer = 'mallory' WHERE height = 1"),
    );
    const bad = (await (await check("ADMIN")).json()) as { ok: boolean; height: number; fault: string };
    expect(bad).toMatchObject({ ok: false, height: 1 });
    const audits = await env.AUDIT.get(env.AUDIT.idFromName("audit")).list({ limit: 10, action: "chain.integrity_check" });
    expect(audits[0]).toMatchObject({ outcome: "failure", details: { height: 1 } });
    const alerts = await env.ADMIN.get(env.ADMIN.idFromName("admin")).listAlerts({ limit: 100 });
    expect(alerts.find((a) => a.key === "integrity:chain")).toMatchObject({ severity: "critical" });
  });
});
