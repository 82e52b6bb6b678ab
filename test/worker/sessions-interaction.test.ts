// The interaction policy chosen at a session's creation (none | metadata | full), the chunk
// search terms a node sends (kept only as keyed tokens), and the search over them.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, problemOf } from "./helpers.ts";
import { as, hostsClosedAfterEach, serverPath, serverRow, until, type DesktopJson } from "./rdp-helpers.ts";
import {
  chunkBytes,
  createSession,
  env,
  makeTasksDue,
  nodeHeaders,
  putChunk,
  sessionDO,
  userHeaders,
  type SessionJson,
} from "./session-helpers.ts";

const host = hostsClosedAfterEach();

function indexStub() {
  return env.SESSION_INDEX.get(env.SESSION_INDEX.idFromName("global"));
}

/** Every row of the index's term table, as stored. */
async function storedTerms(): Promise<Record<string, unknown>[]> {
  return runInDurableObject(indexStub(), (_i, state) => state.storage.sql.exec("SELECT * FROM session_terms").toArray());
}

async function termsOf(sessionId: string) {
  return (await storedTerms()).filter((r) => r.session_id === sessionId);
}

async function recording(ownerId: string, node: string, interaction?: string, chunks = 1): Promise<SessionJson> {
  const session = await createSession(ownerId, node, interaction === undefined ? {} : { interaction });
  const started = await api(`/api/v1/sessions/${session.id}/start`, { method: "POST", headers: await userHeaders(ownerId) });
  expect(started.status).toBe(200);
  for (let i = 0; i < chunks; i++) expect((await putChunk(session.id, i, chunkBytes(i), node)).status).toBe(201);
  return session;
}

async function putTerms(sessionId: string, index: number, body: unknown, node: string) {
  return api(`/api/v1/sessions/${sessionId}/chunks/${index}/terms`, {
    method: "PUT",
    headers: { ...(await nodeHeaders(node)), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

interface Hit {
  id: string;
  interaction: string;
  matches: { field: string; chunkIndex: number | null }[];
}

async function search(q: string, userId: string, role: "USER" | "ADMIN" = "USER"): Promise<Hit[]> {
  const res = await api(`/api/v1/sessions/search?q=${encodeURIComponent(q)}`, { headers: await userHeaders(userId, role) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Hit[] }).items;
}

describe("interaction policy", { timeout: 60_000 }, () => {
  it("defaults to metadata, accepts none and full, refuses anything else, and is returned everywhere", async () => {
    const plain = await createSession("policy-owner", "pn1");
    expect(plain.interaction).toBe("metadata");
    const full = await createSession("policy-owner", "pn1", { interaction: "full" });
    expect(full.interaction).toBe("full");
    expect((await createSession("policy-owner", "pn1", { interaction: "none" })).interaction).toBe("none");

    for (const interaction of ["keys", "FULL", 1, null]) {
      const res = await api("/api/v1/sessions", {
        method: "POST",
        headers: await userHeaders("policy-owner"),
        body: JSON.stringify({ nodeId: (await createSession("policy-owner", "pn1")).nodeId, title: "bad", interaction }),
      });
      expect(res.status).toBe(400);
      expect((await problemOf(res)).type).toBe("/problems/validation-failed");
    }

    const got = await api(`/api/v1/sessions/${full.id}`, { headers: await userHeaders("policy-owner") });
    expect(((await got.json()) as SessionJson).interaction).toBe("full");
    const list = await api(`/api/v1/sessions?limit=100`, { headers: await userHeaders("policy-owner") });
    const items = ((await list.json()) as { items: { id: string; interaction: string }[] }).items;
    expect(items.find((s) => s.id === full.id)?.interaction).toBe("full");
    expect(items.find((s) => s.id === plain.id)?.interaction).toBe("metadata");
  });

  it("cannot be changed after creation: no route takes it, and creating the same id again is refused", async () => {
    const session = await createSession("immutable-owner", "pn2", { interaction: "none" });
    for (const method of ["PATCH", "PUT"]) {
      const res = await api(`/api/v1/sessions/${session.id}`, {
        method,
        headers: await userHeaders("immutable-owner"),
        body: JSON.stringify({ interaction: "full" }),
      });
      expect(res.status).toBeGreaterThanOrEqual(404);
      expect(res.status).toBeLessThan(500);
    }
    const again = await sessionDO(session.id).create({
      id: session.id,
      ownerId: "immutable-owner",
      nodeId: session.nodeId,
      title: "again",
      tags: [],
      notes: "",
      rdp: {},
      interaction: "full",
    });
    expect(again.ok).toBe(false);
    const got = await api(`/api/v1/sessions/${session.id}`, { headers: await userHeaders("immutable-owner") });
    expect(((await got.json()) as SessionJson).interaction).toBe("none");
  });

  it("goes into the RDP desktop's config, and with a migration", async () => {
    const a = await host("op-interaction-a");
    const b = await host("op-interaction-b");
    const session = await createSession("desk-policy", a.node.id, { interaction: "full" });
    const res = await api("/api/v1/rdp/desktops", {
      method: "POST",
      headers: await as("desk-policy"),
      body: JSON.stringify({ sessionId: session.id }),
    });
    expect(res.status).toBe(201);
    const desktop = (await res.json()) as DesktopJson;
    expect(desktop.server.config).toMatchObject({ interaction: "full" });
    const start = await a.agent.command("server.start");
    expect(start.command).toMatchObject({ config: { interaction: "full" } });
    a.agent.ack(start.id);
    await until(async () => (await serverRow(a.node.id, desktop.server.id))?.state === "running");
    const moved = await api(await serverPath(a.node.id, desktop.server.id, "/migrate"), {
      method: "POST",
      headers: await as("desk-policy"),
      body: JSON.stringify({ toHostId: b.node.id }),
    });
    expect(moved.status).toBe(201);
    expect((await b.agent.command("server.start")).command).toMatchObject({ config: { interaction: "full" } });

    const none = await createSession("desk-policy", a.node.id, { interaction: "none" });
    const second = await api("/api/v1/rdp/desktops", {
      method: "POST",
      headers: await as("desk-policy"),
      body: JSON.stringify({ sessionId: none.id }),
    });
    expect(second.status).toBe(201);
    expect((await a.agent.command("server.start")).command).toMatchObject({ config: { interaction: "none" } });
  });
});

describe("chunk search terms", { timeout: 60_000 }, () => {
  it("are kept only as keyed tokens, from the assigned node, after the chunk, idempotently", async () => {
    const session = await recording("terms-owner", "tn1", "full", 2);
    const body = { titles: ["Budget.xlsx — LibreOffice Calc"], words: ["quarterly", "Forecast"] };

    // Another node: 403, nothing kept.
    const stranger = await putTerms(session.id, 0, body, "tn-other");
    expect(stranger.status).toBe(403);
    // A user (even the owner): 403.
    const user = await api(`/api/v1/sessions/${session.id}/chunks/0/terms`, {
      method: "PUT",
      headers: await userHeaders("terms-owner"),
      body: JSON.stringify(body),
    });
    expect(user.status).toBe(403);
    // Before the chunk: 404.
    const early = await putTerms(session.id, 5, body, "tn1");
    expect(early.status).toBe(404);
    expect(await termsOf(session.id)).toEqual([]);

    const res = await putTerms(session.id, 0, body, "tn1");
    expect(res.status).toBe(204);
    const first = await termsOf(session.id);
    // budget, xlsx, libreoffice, calc as titles; quarterly, forecast as text.
    expect(first).toHaveLength(6);
    expect(first.every((r) => r.chunk_index === 0 && /^[0-9a-f]{64}$/.test(String(r.token)))).toBe(true);
    // No plain word anywhere in the index's storage.
    const dump = await runInDurableObject(indexStub(), (_i, state) =>
      JSON.stringify(state.storage.sql.exec("SELECT * FROM session_terms").toArray()),
    );
    for (const word of ["budget", "xlsx", "libreoffice", "calc", "quarterly", "forecast", "Budget", "Forecast"]) {
      expect(dump).not.toContain(word);
    }

    // Idempotent: the same terms again change nothing; new terms replace the chunk's.
    expect((await putTerms(session.id, 0, body, "tn1")).status).toBe(204);
    expect(new Set((await termsOf(session.id)).map((r) => r.token))).toEqual(new Set(first.map((r) => r.token)));
    expect((await putTerms(session.id, 1, { titles: ["Terminal"] }, "tn1")).status).toBe(204);
    expect(await termsOf(session.id)).toHaveLength(7);
  });

  it("validates the body", async () => {
    const session = await recording("terms-validate", "tn2", "full");
    for (const body of [
      { titles: ["x".repeat(1025)] },
      { titles: Array.from({ length: 201 }, () => "t") },
      { words: ["a"] },
      { words: ["w".repeat(65)] },
      { words: Array.from({ length: 5001 }, () => "ab") },
      { titles: "Budget" },
      { other: [] },
    ]) {
      const res = await putTerms(session.id, 0, body, "tn2");
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
    }
    expect(await termsOf(session.id)).toEqual([]);
  });

  it("are refused where the policy does not record them, and nothing changes", async () => {
    const none = await recording("terms-policy", "tn3", "none");
    for (const body of [{ titles: ["Budget"] }, { words: ["secret"] }]) {
      const res = await putTerms(none.id, 0, body, "tn3");
      expect(res.status).toBe(409);
      const problem = await problemOf(res);
      expect(problem.type).toBe("/problems/interaction-policy");
      expect(problem.policy).toBe("none");
    }
    const metadata = await recording("terms-policy", "tn3", "metadata");
    expect((await putTerms(metadata.id, 0, { titles: ["Budget"] }, "tn3")).status).toBe(204);
    const before = await termsOf(metadata.id);
    expect(before).toHaveLength(1);
    const words = await putTerms(metadata.id, 0, { titles: ["Payroll"], words: ["hunter2"] }, "tn3");
    expect(words.status).toBe(409);
    expect((await problemOf(words)).type).toBe("/problems/interaction-policy");
    expect(await termsOf(none.id)).toEqual([]);
    expect(await termsOf(metadata.id)).toEqual(before);
  });
});

describe("search by recorded terms", { timeout: 60_000 }, () => {
  it("finds sessions by window-title words (metadata, full) and typed words (full only), with the first chunk", async () => {
    const owner = `finder-${crypto.randomUUID().slice(0, 8)}`;
    const meta = await recording(owner, "sn1", "metadata", 3);
    const full = await recording(owner, "sn1", "full", 2);
    expect((await putTerms(meta.id, 2, { titles: ["Zanzibar Ledger.ods — LibreOffice Calc"] }, "sn1")).status).toBe(204);
    expect((await putTerms(meta.id, 1, { titles: ["Terminal"] }, "sn1")).status).toBe(204);
    expect((await putTerms(full.id, 1, { titles: ["Mail"], words: ["zanzibar", "shipment"] }, "sn1")).status).toBe(204);

    const byTitle = await search("zanzibar ledger", owner);
    expect(byTitle.map((h) => h.id)).toEqual([meta.id]);
    expect(byTitle[0]!.matches).toEqual([{ field: "window-title", chunkIndex: 2 }]);

    // Case and Unicode compatibility forms are folded (NFKC, lowercase).
    expect((await search("ＺＡＮＺＩＢＡＲ", owner)).map((h) => h.id).sort()).toEqual([meta.id, full.id].sort());
    const typed = await search("shipment", owner);
    expect(typed.map((h) => h.id)).toEqual([full.id]);
    expect(typed[0]!.matches).toEqual([{ field: "typed-text", chunkIndex: 1 }]);
    // Every word must match (in one chunk).
    expect(await search("zanzibar terminal", owner)).toEqual([]);
    // Metadata matches stay (FTS over the title) and say so.
    const byMeta = await search("Session", owner);
    expect(byMeta.length).toBe(2);
    expect(byMeta[0]!.matches[0]).toEqual({ field: "metadata", chunkIndex: null });
  });

  it("keeps terms that arrive before the index knows the session: it is told first, never a 204 for nothing", async () => {
    const owner = `early-${crypto.randomUUID().slice(0, 8)}`;
    const session = await recording(owner, "sn1", "metadata");
    // As if the session's summary had not reached the index yet (its sync is retried in the background).
    await runInDurableObject(indexStub(), (_i, state) => {
      state.storage.sql.exec("DELETE FROM sessions WHERE id = ?", session.id);
    });
    expect((await putTerms(session.id, 0, { titles: ["Quarterly Xylophone Report"] }, "sn1")).status).toBe(204);
    expect((await termsOf(session.id)).length).toBeGreaterThan(0);
    expect((await search("xylophone", owner)).map((h) => h.id)).toEqual([session.id]);
  });

  it("never finds another owner's session, and an admin finds every one", async () => {
    const session = await recording("owner-a", "sn2", "metadata");
    expect((await putTerms(session.id, 0, { titles: ["Quokkaspreadsheet"] }, "sn2")).status).toBe(204);
    expect(await search("quokkaspreadsheet", "owner-b")).toEqual([]);
    expect((await search("quokkaspreadsheet", "owner-a")).map((h) => h.id)).toEqual([session.id]);
    expect((await search("quokkaspreadsheet", "root", "ADMIN")).map((h) => h.id)).toEqual([session.id]);
  });

  it("finds nothing once the recording is deleted (crypto-shredded), and takes no new terms for it", async () => {
    const session = await recording("deleter", "sn3", "full");
    expect((await putTerms(session.id, 0, { titles: ["Wombatreport"], words: ["wombatword"] }, "sn3")).status).toBe(204);
    expect(await search("wombatreport", "deleter")).toHaveLength(1);
    const removed = await api(`/api/v1/sessions/${session.id}`, { method: "DELETE", headers: await userHeaders("deleter") });
    expect(removed.status).toBe(200);
    expect(await search("wombatreport", "deleter")).toEqual([]);
    expect(await search("wombatword", "deleter")).toEqual([]);
    expect(await termsOf(session.id)).toEqual([]);
    const late = await putTerms(session.id, 0, { titles: ["Wombatreport"] }, "sn3");
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect(await termsOf(session.id)).toEqual([]);
  });

  it("finds nothing once retention expired the recording", async () => {
    const session = await recording("expirer", "sn4", "metadata");
    expect((await putTerms(session.id, 0, { titles: ["Platypusplan"] }, "sn4")).status).toBe(204);
    expect(await search("platypusplan", "expirer")).toHaveLength(1);
    await makeTasksDue(session.id, { expire: true });
    await until(async () => {
      await runInDurableObject(sessionDO(session.id), async (instance) => instance.alarm());
      return (await termsOf(session.id)).length === 0;
    });
    expect(await search("platypusplan", "expirer")).toEqual([]);
  });
});
