import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { api, problemOf, tokenFor } from "./helpers.ts";
import {
  chunkBytes,
  env,
  makeTasksDue,
  nodeHeaders,
  putChunk,
  recordingSession,
  sessionDO,
  storedChunks,
  userHeaders,
  type SessionJson,
} from "./session-helpers.ts";

const auditOf = async (id: string, action: string) =>
  (await env.AUDIT.get(env.AUDIT.idFromName("audit")).list({ limit: 50, action })).filter((e) => e.targetId === id);
const hold = (id: string, token: string, body: unknown = { reason: "Litigation 2026-42: preserve" }) =>
  api(`/api/v1/sessions/${id}/hold`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
const lift = (id: string, token: string) =>
  api(`/api/v1/sessions/${id}/hold`, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
const view = async (id: string, user: string) =>
  (await (await api(`/api/v1/sessions/${id}`, { headers: await userHeaders(user) })).json()) as SessionJson;

describe("legal hold", { timeout: 120_000 }, () => {
  it("an ADMIN holds a session (audited): deletion is refused with 409 and nothing changes; lifting it (audited) allows it again", async () => {
    const admin = await steppedUpAdmin();
    const s = await recordingSession("lh1", "lhn1");
    await putChunk(s.id, 0, chunkBytes(0), "lhn1");

    // The owner cannot hold (or lift) their own session; a forged ADMIN token with no live login is refused.
    expect((await hold(s.id, await tokenFor("lh1"))).status).toBe(403);
    expect((await hold(s.id, await tokenFor(crypto.randomUUID(), "ADMIN"))).status).toBe(401);
    expect(
      (
        await api(`/api/v1/sessions/${s.id}/hold`, {
          method: "PUT",
          headers: { ...(await nodeHeaders("lhn1")), "Content-Type": "application/json" },
          body: "{}",
        })
      ).status,
    ).toBe(401);
    // A reason is required.
    expect((await problemOf(await hold(s.id, admin.token, { reason: " " }))).status).toBe(400);
    expect((await view(s.id, "lh1")).legalHold).toBeNull();

    const held = await hold(s.id, admin.token);
    expect(held.status).toBe(200);
    expect(((await held.json()) as SessionJson).legalHold).toMatchObject({
      reason: "Litigation 2026-42: preserve",
      by: `user:${admin.id}`,
    });
    expect((await auditOf(s.id, "sessions.legal_hold"))[0]).toMatchObject({
      actorId: admin.id,
      outcome: "success",
      details: { reason: "Litigation 2026-42: preserve" },
    });

    // The owner, and an admin, try to crypto-shred it anyway.
    for (const headers of [await userHeaders("lh1"), await userHeaders("root", "ADMIN"), { Authorization: `Bearer ${admin.token}` }]) {
      const del = await api(`/api/v1/sessions/${s.id}`, { method: "DELETE", headers });
      expect(del.status).toBe(409);
      expect(await problemOf(del)).toMatchObject({ type: "/problems/legal-hold", reason: "Litigation 2026-42: preserve" });
    }
    const after = await view(s.id, "lh1");
    expect(after).toMatchObject({ keyShredded: false, deleted: false, state: "recording" });
    expect(await storedChunks(s.id)).toHaveLength(1);

    const lifted = await lift(s.id, admin.token);
    expect(lifted.status).toBe(200);
    expect(((await lifted.json()) as SessionJson).legalHold).toBeNull();
    expect((await auditOf(s.id, "sessions.legal_hold_lifted"))[0]).toMatchObject({
      actorId: admin.id,
      details: { reason: "Litigation 2026-42: preserve" },
    });
    expect((await lift(s.id, admin.token)).status).toBe(409);
    expect((await api(`/api/v1/sessions/${s.id}`, { method: "DELETE", headers: await userHeaders("lh1") })).status).toBe(200);
    expect(await storedChunks(s.id)).toHaveLength(0);
  });

  it("retention skips a held session; after the hold is lifted the expired session is shredded", async () => {
    const admin = await steppedUpAdmin();
    const s = await recordingSession("lh2", "lhn2");
    await putChunk(s.id, 0, chunkBytes(0), "lhn2");
    expect((await hold(s.id, admin.token)).status).toBe(200);
    await makeTasksDue(s.id, { expire: true });
    await runDurableObjectAlarm(sessionDO(s.id));
    expect(await view(s.id, "lh2")).toMatchObject({ keyShredded: false });
    expect(await storedChunks(s.id)).toHaveLength(1);
    expect((await api(`/api/v1/sessions/${s.id}/key`, { headers: await userHeaders("lh2") })).status).toBe(200);

    expect((await lift(s.id, admin.token)).status).toBe(200);
    // Retention is due at once (the session expired while held): the alarm shreds it.
    await vi.waitFor(async () => {
      await runDurableObjectAlarm(sessionDO(s.id));
      expect(await view(s.id, "lh2")).toMatchObject({ keyShredded: true });
    });
    expect(await storedChunks(s.id)).toHaveLength(0);
    // A shredded session cannot be held any more (there is nothing left to preserve).
    expect((await hold(s.id, admin.token)).status).toBe(410);
  });
});
