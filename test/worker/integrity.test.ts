import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { api, problemOf } from "./helpers.ts";
import {
  chunkBytes,
  env,
  putChunk,
  recordingSession,
  sessionDO,
  storedChunks,
  settle,
  userHeaders,
  type SessionJson,
} from "./session-helpers.ts";

const download = async (id: string, index: number, user: string, range?: string, role: "USER" | "ADMIN" = "USER") =>
  api(`/api/v1/sessions/${id}/chunks/${index}`, { headers: { ...(await userHeaders(user, role)), ...(range ? { Range: range } : {}) } });
const view = async (id: string, user: string) =>
  (await (await api(`/api/v1/sessions/${id}`, { headers: await userHeaders(user) })).json()) as SessionJson;
const auditOf = async (id: string, action: string) =>
  (await env.AUDIT.get(env.AUDIT.idFromName("audit")).list({ limit: 50, action })).filter((e) => e.targetId === id);
const cursorOf = async (id: string) =>
  runInDurableObject(
    sessionDO(id),
    (_i, state) => state.storage.sql.exec<{ scrub_cursor: string | null }>("SELECT scrub_cursor FROM session").one().scrub_cursor,
  );
/** Makes the scheduled scrub due now and wakes the object, as the runtime does when its time comes. */
const scrubNow = async (id: string) =>
  runInDurableObject(sessionDO(id), async (_i, state) => {
    const now = Date.now();
    state.storage.sql.exec("UPDATE tasks SET due_at = ? WHERE name = 'scrub'", now);
    await state.storage.setAlarm(now);
    return now;
  });
/** Waits until a whole scheduled pass started at or after `since` is recorded (cursor and result read at once). */
const passAfter = async (id: string, since: number) =>
  vi.waitFor(
    async () => {
      const row = await runInDurableObject(sessionDO(id), (_i, state) =>
        state.storage.sql
          .exec<{ scrub_cursor: string | null; last_integrity: string | null }>("SELECT scrub_cursor, last_integrity FROM session")
          .one(),
      );
      expect(row.scrub_cursor).toBeNull();
      const check = JSON.parse(row.last_integrity ?? "null") as { source: string; at: number } | null;
      expect(check?.source).toBe("scrub");
      expect(check!.at).toBeGreaterThanOrEqual(since);
    },
    { timeout: 20_000 },
  );
const alertOf = async (id: string) =>
  (await env.ADMIN.get(env.ADMIN.idFromName("admin")).listAlerts({ limit: 200 })).find((a) => a.key === `integrity:session:${id}`);

/** Someone with access to the disk flips one byte of a stored chunk behind the server's back. */
async function flipByte(key: string, at: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(await (await env.CHUNKS.get(key))!.arrayBuffer());
  const original = bytes.slice();
  bytes[at] = bytes[at]! ^ 0x01;
  await env.CHUNKS.put(key, bytes);
  return original;
}

/** A stored (not anchored) session with `sizes.length` chunks. */
async function storedSession(owner: string, node: string, sizes: number[]): Promise<SessionJson> {
  const s = await recordingSession(owner, node);
  for (const [index, size] of sizes.entries()) expect((await putChunk(s.id, index, chunkBytes(index, size), node)).status).toBe(201);
  const stop = await api(`/api/v1/sessions/${s.id}/stop`, {
    method: "POST",
    headers: await userHeaders(owner),
    body: JSON.stringify({ chunkCount: sizes.length }),
  });
  expect(stop.status).toBe(200);
  await settle(s.id, (state) => state !== "processing");
  return s;
}

describe("tamper detection at rest", { timeout: 120_000 }, () => {
  it("a flipped byte in a small stored chunk: 500 chunk-corrupt for the whole chunk and any range, the event on the session, an audit entry and an alert", async () => {
    const s = await recordingSession("ti1", "tn1");
    const bytes = chunkBytes(0, 4000);
    await putChunk(s.id, 0, bytes, "tn1");
    const intact = await download(s.id, 0, "ti1");
    expect(intact.status).toBe(200);
    expect(intact.headers.get("Lucid-Integrity")).toBe("verified");
    expect(new Uint8Array(await intact.arrayBuffer())).toEqual(bytes);

    const [stored] = await storedChunks(s.id);
    await flipByte(stored!.key, 1234);
    const res = await download(s.id, 0, "ti1");
    expect(res.status).toBe(500);
    expect(await problemOf(res)).toMatchObject({ type: "/problems/chunk-corrupt", index: 0 });
    // A range far from the flipped byte is refused too: the chunk is known damaged now.
    const part = await download(s.id, 0, "ti1", "bytes=0-9");
    expect(part.status).toBe(500);

    const audits = await auditOf(s.id, "chunks.integrity_failure");
    expect(audits[0]).toMatchObject({ outcome: "failure", details: { index: 0, reason: "digest" } });
    expect(await alertOf(s.id)).toMatchObject({ severity: "critical", source: "integrity", state: "open" });
    const session = await view(s.id, "ti1");
    expect(session.lastIntegrityCheck).toMatchObject({ source: "read", ok: false, badChunks: [{ index: 0, reason: "digest" }] });
    const events = (await (await api(`/api/v1/sessions/${s.id}/events`, { headers: await userHeaders("ti1") })).json()) as {
      items: { kind: string }[];
    };
    expect(events.items.map((e) => e.kind)).toContain("integrity-failure");
  });

  it("a large chunk is hashed while streaming: a flipped byte breaks the transfer before its end, never a complete 200 of wrong bytes", async () => {
    const size = 1024 * 1024 + 4096;
    const s = await recordingSession("ti2", "tn2");
    const bytes = chunkBytes(0, size);
    await putChunk(s.id, 0, bytes, "tn2");
    const intact = await download(s.id, 0, "ti2");
    expect(intact.headers.get("Lucid-Integrity")).toBe("verified-streaming");
    expect(new Uint8Array(await intact.arrayBuffer())).toEqual(bytes);
    // A range of a chunk too large to check first is marked as not verified.
    const range = await download(s.id, 0, "ti2", "bytes=100-199");
    expect(range.status).toBe(206);
    expect(range.headers.get("Lucid-Integrity")).toBe("unverified-range");
    expect(range.headers.get("Content-Digest")).toBeNull();
    expect(new Uint8Array(await range.arrayBuffer())).toEqual(bytes.subarray(100, 200));

    const [stored] = await storedChunks(s.id);
    await flipByte(stored!.key, 10);
    const res = await download(s.id, 0, "ti2");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Length")).toBe(String(size));
    // The body errors before its end: the client never holds all Content-Length bytes.
    let received = 0;
    const reader = res.body!.getReader();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received += value.byteLength;
        }
      })(),
    ).rejects.toThrow();
    expect(received).toBeLessThan(size);
    await vi.waitFor(async () =>
      expect((await view(s.id, "ti2")).lastIntegrityCheck).toMatchObject({ ok: false, badChunks: [{ index: 0, reason: "digest" }] }),
    );
    expect((await auditOf(s.id, "chunks.integrity_failure"))[0]).toMatchObject({ details: { reason: "digest" } });
    expect(await alertOf(s.id)).toBeDefined();
    // From now on the chunk is refused outright, ranges included.
    expect((await download(s.id, 0, "ti2")).status).toBe(500);
    expect((await download(s.id, 0, "ti2", "bytes=100-199")).status).toBe(500);
  });
});

describe("scrub", { timeout: 120_000 }, () => {
  it("POST integrity-check (ADMIN only) re-hashes every chunk, reports the damaged one, and a later check after a restore clears it", async () => {
    const s = await storedSession("ts1", "tm1", [2000, 3000, 2500]);
    const keys = (await storedChunks(s.id)).map((b) => b.key);
    const check = async (user: string, role: "USER" | "ADMIN") =>
      api(`/api/v1/sessions/${s.id}/integrity-check`, { method: "POST", headers: await userHeaders(user, role) });
    const clean = await check("root", "ADMIN");
    expect(clean.status).toBe(200);
    expect(await clean.json()).toMatchObject({ source: "request", ok: true, checked: 3, badChunks: [] });
    // The owner (a USER) may not run it; another user cannot even see the session.
    expect((await check("ts1", "USER")).status).toBe(403);

    const original = await flipByte(keys[1]!, 7);
    const found = await check("root", "ADMIN");
    expect(await found.json()).toMatchObject({ ok: false, checked: 3, badChunks: [{ index: 1, reason: "digest" }] });
    expect((await view(s.id, "ts1")).lastIntegrityCheck).toMatchObject({ source: "request", ok: false, badChunks: [{ index: 1 }] });
    expect(await alertOf(s.id)).toMatchObject({ severity: "critical" });
    expect((await auditOf(s.id, "sessions.integrity_check"))[0]).toMatchObject({ outcome: "failure", details: { bad: 1 } });
    expect((await auditOf(s.id, "sessions.integrity_check_requested")).length).toBe(2);
    expect((await download(s.id, 1, "ts1")).status).toBe(500);
    expect((await download(s.id, 0, "ts1")).status).toBe(200);

    // Restored from a backup: the next check finds it intact and it is served again.
    await env.CHUNKS.put(keys[1]!, original);
    expect(await (await check("root", "ADMIN")).json()).toMatchObject({ ok: true, badChunks: [] });
    expect((await download(s.id, 1, "ts1")).status).toBe(200);
  });

  it("the scheduled scrub runs from the alarm after the session is stored and finds a truncated and a deleted chunk", async () => {
    const s = await storedSession("ts2", "tm2", [1000, 1000, 1000]);
    const tasks = await sessionDO(s.id).pendingTasks();
    const scrub = tasks.find((t) => t.name === "scrub");
    expect(scrub).toBeDefined();
    expect(scrub!.dueAt).toBeGreaterThan(Date.now() + 86_400_000);
    const keys = (await storedChunks(s.id)).map((b) => b.key);
    await env.CHUNKS.put(keys[0]!, chunkBytes(0, 600));
    await env.CHUNKS.delete(keys[2]!);
    // The alarm fires as the runtime fires it (running it by hand races the session's own anchor alarm).
    await passAfter(s.id, await scrubNow(s.id));
    const session = await view(s.id, "ts2");
    expect(session.lastIntegrityCheck).toMatchObject({
      source: "scrub",
      ok: false,
      checked: 3,
      badChunks: [
        { index: 0, reason: "size" },
        { index: 2, reason: "missing" },
      ],
    });
    expect(await alertOf(s.id)).toBeDefined();
    // It is scheduled again.
    const again = (await sessionDO(s.id).pendingTasks()).find((t) => t.name === "scrub");
    expect(again!.dueAt).toBeGreaterThan(Date.now());
  });

  it("a scheduled pass spans alarm runs, a bounded number of bytes each, and records the whole pass once", async () => {
    // INTEGRITY_SCRUB_BYTES_PER_RUN is 4096 in the tests: three 2000-byte chunks a run.
    const s = await storedSession("ts3", "tm3", [2000, 2000, 2000, 2000, 2000, 2000]);
    const keys = (await storedChunks(s.id)).map((b) => b.key);
    await flipByte(keys[5]!, 100);
    // Each run leaves the next one due at once; the runtime fires them on its own.
    await passAfter(s.id, await scrubNow(s.id));
    expect((await view(s.id, "ts3")).lastIntegrityCheck).toMatchObject({
      source: "scrub",
      ok: false,
      checked: 6,
      badChunks: [{ index: 5 }],
    });
    const events = (await (await api(`/api/v1/sessions/${s.id}/events`, { headers: await userHeaders("ts3") })).json()) as {
      items: { kind: string; detail: { runs?: number; partial?: boolean } | null }[];
    };
    const whole = events.items.filter((e) => e.kind === "integrity-failure" && !e.detail?.partial);
    expect(whole.map((e) => e.detail?.runs)).toEqual([2]);
    // It is scheduled again, a whole interval later.
    expect((await sessionDO(s.id).pendingTasks()).find((t) => t.name === "scrub")!.dueAt).toBeGreaterThan(Date.now() + 86_400_000);
  });

  it("a pass interrupted half-way resumes at its checkpoint and still finds a flipped byte in a later chunk", async () => {
    const s = await storedSession("ts4", "tm4", [2000, 2000, 2000, 2000, 2000, 2000]);
    const keys = (await storedChunks(s.id)).map((b) => b.key);
    // The object was evicted (or crashed) after the first run of a pass saved its checkpoint.
    const checkpoint = { startedAt: Date.now(), next: 3, checked: 3, badChunks: [], runs: 1 };
    await runInDurableObject(sessionDO(s.id), (_i, state) => {
      state.storage.sql.exec("UPDATE session SET scrub_cursor = ?", JSON.stringify(checkpoint));
    });
    // Damage behind the checkpoint waits for the next pass; damage ahead of it is found by this one.
    const behind = await flipByte(keys[1]!, 5);
    await flipByte(keys[4]!, 1500);
    await passAfter(s.id, await scrubNow(s.id));
    expect((await view(s.id, "ts4")).lastIntegrityCheck).toMatchObject({
      source: "scrub",
      ok: false,
      checked: 6,
      badChunks: [{ index: 4, reason: "digest" }],
    });
    expect(await alertOf(s.id)).toMatchObject({ severity: "critical", source: "integrity" });
    expect((await auditOf(s.id, "sessions.integrity_check"))[0]).toMatchObject({ outcome: "failure", details: { bad: 1 } });
    expect((await download(s.id, 4, "ts4")).status).toBe(500);
    expect((await download(s.id, 1, "ts4")).status).toBe(500); // a read still checks every byte it serves

    // The next pass starts again at chunk 0: it finds chunk 1 and, once restored, clears chunk 1's mark.
    await passAfter(s.id, await scrubNow(s.id));
    expect((await view(s.id, "ts4")).lastIntegrityCheck).toMatchObject({ checked: 6, badChunks: [{ index: 1 }, { index: 4 }] });
    await env.CHUNKS.put(keys[1]!, behind);
    await passAfter(s.id, await scrubNow(s.id));
    expect((await view(s.id, "ts4")).lastIntegrityCheck).toMatchObject({ checked: 6, badChunks: [{ index: 4 }] });
    expect((await download(s.id, 1, "ts4")).status).toBe(200);
  });
});
