import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AUDIT_GENESIS_HASH, auditEventHash, verifyAuditExport, type AuditExportBundle } from "../../shared/audit.ts";
import { audit } from "../../functions/audit.ts";
import { attemptLogin, newWallet, postJson, testEnv } from "./auth-helpers.ts";
import { adminGet, adminSend, steppedUpAdmin } from "./admin-helpers.ts";
import { problemOf, tokenFor } from "./helpers.ts";

const auditDO = () => env.AUDIT.get(env.AUDIT.idFromName("audit"));
const chain = () => env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));

interface Item {
  id: number;
  action: string;
  outcome: string;
  actorId: string | null;
  targetId: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  before: unknown;
  after: unknown;
  at: string;
  prevHash: string;
  hash: string;
}

async function listAudit(query: string, token?: string) {
  const res = await adminGet(`/api/v1/admin/audit${query}`, token ?? (await tokenFor(crypto.randomUUID(), "ADMIN")));
  expect(res.status).toBe(200);
  return res.json<{ items: Item[]; nextBefore: number | null }>();
}

async function verify() {
  const res = await adminGet("/api/v1/admin/audit/verify", await tokenFor(crypto.randomUUID(), "ADMIN"));
  expect(res.status).toBe(200);
  return res.json<{ ok: boolean; events: number; firstBroken: { id: number; reason: string; action: string | null } | null }>();
}

describe("audit log: hash chain, search, verify, anchoring, export", () => {
  it("chains every event: prevHash is the previous hash, hash is SHA-256 over the documented canonical encoding", async () => {
    await audit(testEnv, {
      action: "test.alpha",
      outcome: "success",
      actorId: "admin-1",
      targetId: "thing-1",
      requestId: "req-alpha",
      details: { ratio: 0.5, n: 3 },
      before: { state: "a" },
      after: { state: "b" },
    });
    await audit(testEnv, { action: "test.beta", outcome: "failure", details: {} });
    const { items } = await listAudit("?action=test.*&limit=10");
    const [beta, alpha] = items;
    expect(alpha!.action).toBe("test.alpha");
    expect(beta!.prevHash).toBe(alpha!.hash);
    expect(alpha!.details).toEqual({ ratio: "0.5", n: 3 }); // floats are kept as strings (canonical JSON refuses them)
    expect(alpha!.before).toEqual({ state: "a" });
    const recomputed = auditEventHash(
      {
        id: alpha!.id,
        at: Date.parse(alpha!.at),
        action: "test.alpha",
        outcome: "success",
        actorId: "admin-1",
        targetId: "thing-1",
        ip: null,
        requestId: "req-alpha",
        details: { n: 3, ratio: "0.5" },
        before: { state: "a" },
        after: { state: "b" },
      },
      alpha!.prevHash,
    );
    expect(recomputed).toBe(alpha!.hash);
    const first = await listAudit("?limit=500");
    expect(first.items.at(-1)!.prevHash).toBe(AUDIT_GENESIS_HASH);
  });

  it("records auth events with the request id, and searches them with FTS5, filters and paging", async () => {
    const wallet = newWallet();
    const res = await attemptLogin(wallet);
    expect(res.status).toBe(200);
    const requestId = res.headers.get("X-Request-Id")!;
    const byRequest = await listAudit(`?requestId=${requestId}`);
    expect(byRequest.items.map((e) => e.action)).toContain("auth.login");
    // Full text over details: the wallet's address appears in users.create.
    const found = await listAudit(`?q=${wallet.address}`);
    expect(found.items.some((e) => e.action === "users.create")).toBe(true);
    // Token refreshes are auth events too.
    const tokens = await res.json<{ refreshToken: string }>();
    const refreshed = await postJson("/api/v1/auth/refresh", { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await listAudit(`?requestId=${refreshed.headers.get("X-Request-Id")}`)).items[0]).toMatchObject({
      action: "auth.refresh",
      outcome: "success",
    });
    const reused = await postJson("/api/v1/auth/refresh", { refreshToken: tokens.refreshToken });
    expect((await listAudit(`?requestId=${reused.headers.get("X-Request-Id")}`)).items[0]).toMatchObject({
      action: "auth.refresh_reuse",
      outcome: "failure",
    });
    const none = await listAudit("?q=zzzznotaword");
    expect(none.items).toEqual([]);
    for (let i = 0; i < 5; i++) await audit(testEnv, { action: "test.page", outcome: "success", details: { i } });
    const page1 = await listAudit("?action=test.page&limit=2");
    expect(page1.items).toHaveLength(2);
    const page2 = await listAudit(`?action=test.page&limit=2&before=${page1.nextBefore}`);
    expect(page2.items[0]!.id).toBeLessThan(page1.items[1]!.id);
    const failures = await listAudit("?outcome=failure&action=test.");
    expect(failures.items.every((e) => e.outcome === "failure")).toBe(true);
  });

  it("only ADMIN and SUPER_ADMIN read the log", async () => {
    for (const path of ["/api/v1/admin/audit", "/api/v1/admin/audit/verify", "/api/v1/admin/audit/export", "/api/v1/admin/audit/anchors"]) {
      expect((await adminGet(path)).status).toBe(401);
      for (const role of ["USER", "NODE_OPERATOR"] as const) {
        const res = await adminGet(path, await tokenFor(crypto.randomUUID(), role));
        expect((await problemOf(res)).type, `${path} as ${role}`).toBe("/problems/forbidden");
      }
      for (const role of ["ADMIN", "SUPER_ADMIN"] as const)
        expect((await adminGet(path, await tokenFor(crypto.randomUUID(), role))).status).toBe(200);
    }
  });

  it("bad queries are 400 problems", async () => {
    const token = await tokenFor(crypto.randomUUID(), "ADMIN");
    for (const query of [
      "?limit=0",
      "?limit=501",
      "?action=Bad%20Action",
      "?from=yesterday",
      "?before=-1",
      "?outcome=maybe",
      "?unknown=1",
      "?actorId=a%20b",
    ]) {
      const problem = await problemOf(await adminGet(`/api/v1/admin/audit${query}`, token));
      expect(problem.type, query).toBe("/problems/validation-failed");
    }
    for (const query of ["?from=5&to=2", "?limit=0", "?from=abc"]) {
      expect((await problemOf(await adminGet(`/api/v1/admin/audit/export${query}`, token))).status, query).toBe(400);
    }
  });

  it("anchors its head on the Lucid chain; the export carries proofs that verify offline", async () => {
    const admin = (await steppedUpAdmin()).token; // a real session: anchoring is an admin write
    const anchored = await adminSend("POST", "/api/v1/admin/audit/anchors", undefined, admin);
    expect(anchored.status).toBe(201);
    const anchor = await anchored.json<{ eventId: number; head: string; txId: string; blockHeight: number | null }>();
    expect(anchor.blockHeight).toBeNull();
    // The chain puts it in a block; the audit alarm then records where.
    expect(await runDurableObjectAlarm(chain())).toBe(true);
    // record() armed the anchoring alarm; run it now instead of waiting AUDIT_ANCHOR_INTERVAL_SECONDS.
    expect(await runDurableObjectAlarm(auditDO())).toBe(true);
    const status = await (
      await adminGet("/api/v1/admin/audit/anchors", admin)
    ).json<{ anchors: { eventId: number; blockHeight: number | null }[] }>();
    expect(status.anchors.find((a) => a.eventId === anchor.eventId)?.blockHeight).toBeGreaterThan(0);

    const res = await adminGet(`/api/v1/admin/audit/export?from=1&to=${anchor.eventId}`, admin);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Disposition")).toMatch(/attachment/);
    const bundle = await res.json<AuditExportBundle & { chain: { producer: string } }>();
    expect(bundle.events).toHaveLength(anchor.eventId);
    const withProof = bundle.anchors.find((a) => a.eventId === anchor.eventId)!;
    expect(withProof.evidence?.block.header.height).toBeGreaterThan(0);
    expect(await verifyAuditExport(bundle, [bundle.chain.producer])).toBeNull();
    // Any change to an exported event breaks the offline check, naming it.
    const tampered = structuredClone(bundle);
    tampered.events[1]!.action = "auth.nothing_happened";
    expect(await verifyAuditExport(tampered, [bundle.chain.producer])).toBe(`event ${tampered.events[1]!.id}: hash-mismatch`);
    expect(await verifyAuditExport(bundle, ["someone-else"])).toMatch(/producer is not trusted/);
  });

  it("verify passes on an intact log, names the first tampered event, and passes again once it is restored", async () => {
    await audit(testEnv, { action: "test.victim", outcome: "success", details: { amount: "5" } });
    await audit(testEnv, { action: "test.after", outcome: "success" });
    expect(await verify()).toMatchObject({ ok: true, firstBroken: null });
    const victim = (await listAudit("?action=test.victim")).items[0]!;
    const original = await runInDurableObject(auditDO(), (_i, state) => {
      const row = state.storage.sql.exec<{ details: string }>("SELECT details FROM audit_events WHERE id = ?", victim.id).one();
      state.storage.sql.exec("UPDATE audit_events SET details = ? WHERE id = ?", '{"amount":"5000"}', victim.id);
      return row.details;
    });
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBroken).toMatchObject({ id: victim.id, reason: "hash-mismatch", action: "test.victim" });
    expect(report.events).toBe(victim.id - 1);

    // Deleting an event is a gap at the next one.
    await runInDurableObject(auditDO(), (_i, state) => {
      state.storage.sql.exec("UPDATE audit_events SET details = ? WHERE id = ?", original, victim.id);
    });
    expect((await verify()).ok).toBe(true);
    const saved = await runInDurableObject(auditDO(), (_i, state) => {
      const row = state.storage.sql.exec("SELECT * FROM audit_events WHERE id = ?", victim.id).one();
      state.storage.sql.exec("DELETE FROM audit_events WHERE id = ?", victim.id);
      return row;
    });
    expect((await verify()).firstBroken).toMatchObject({ id: victim.id + 1, reason: "id-gap" });
    // An anchored head that no longer matches its event is reported too.
    const mismatch = await runInDurableObject(auditDO(), (_i, state) => {
      const anchor = state.storage.sql
        .exec<{ event_id: number; head: string }>("SELECT event_id, head FROM audit_anchors ORDER BY event_id LIMIT 1")
        .one();
      state.storage.sql.exec("UPDATE audit_anchors SET head = ? WHERE event_id = ?", "f".repeat(64), anchor.event_id);
      return anchor;
    });
    await runInDurableObject(auditDO(), (_i, state) => {
      const columns = Object.keys(saved);
      state.storage.sql.exec(
        `INSERT INTO audit_events (${columns.join(",")}) VALUES (${columns.map(() => "?").join(",")})`,
        ...columns.map((k) => saved[k]),
      );
    });
    const anchorReport = await adminGet("/api/v1/admin/audit/verify", await tokenFor(crypto.randomUUID(), "ADMIN"));
    expect(await anchorReport.json()).toMatchObject({ ok: false, firstBroken: null, anchorMismatches: [mismatch.event_id] });
    await runInDurableObject(auditDO(), (_i, state) => {
      state.storage.sql.exec("UPDATE audit_anchors SET head = ? WHERE event_id = ?", mismatch.head, mismatch.event_id);
    });
    expect((await verify()).ok).toBe(true);
  });
});
