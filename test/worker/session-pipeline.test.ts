import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SessionDO } from "../../durable-objects/session/index.ts";
import { MAX_PIPELINE_ATTEMPTS } from "../../durable-objects/session/tasks.ts";
import { fromHex, verifyInclusion } from "../../shared/merkle/index.ts";
import { verifyEvidence } from "../../shared/verify.ts";
import { api } from "./helpers.ts";
import {
  chunkBytes,
  env,
  makeTasksDue,
  putChunk,
  recordingSession,
  sessionDO,
  storedChunks,
  settle,
  userHeaders,
  type SessionJson,
} from "./session-helpers.ts";

const admin = { kind: "user" as const, userId: "root", role: "ADMIN" as const };

async function stoppedSession(owner: string, node: string, chunks = 3) {
  const s = await recordingSession(owner, node);
  for (let i = 0; i < chunks; i++) expect((await putChunk(s.id, i, chunkBytes(i), node)).status).toBe(201);
  return s;
}

async function state(id: string) {
  const view = await sessionDO(id).get(admin);
  if (!view.ok) throw new Error("session not readable");
  return view.value;
}

async function events(id: string) {
  const log = await sessionDO(id).events(admin);
  if (!log.ok) throw new Error("events not readable");
  return log.value;
}

/** Resets the object as a crash would: the next call gets a fresh instance that must rebuild from SQLite. */
async function restart(id: string) {
  await runInDurableObject(sessionDO(id), (instance) => {
    (instance as unknown as { marker?: boolean }).marker = true;
  });
  await expect(
    runInDurableObject(sessionDO(id), (_instance, ctx) => {
      ctx.abort("simulated restart");
    }),
  ).rejects.toThrow();
  await runInDurableObject(sessionDO(id), (instance) => {
    expect((instance as unknown as { marker?: boolean }).marker).toBeUndefined();
  });
}

describe("the processing pipeline", { timeout: 60_000 }, () => {
  it("retries a failing step with back-off and resumes after a restart in the middle of processing", async () => {
    const s = await stoppedSession("p1", "q1");
    // A blob vanishes from the store (a disk hiccup): verification fails and is retried.
    const [victim] = await storedChunks(s.id);
    const saved = await (await env.CHUNKS.get(victim!.key))!.arrayBuffer();
    await env.CHUNKS.delete(victim!.key);
    const stop = await api(`/api/v1/sessions/${s.id}/stop`, { method: "POST", headers: await userHeaders("p1") });
    expect(stop.status).toBe(200);
    await runDurableObjectAlarm(sessionDO(s.id));
    expect((await state(s.id)).state).toBe("processing");
    const [pipeline] = (await sessionDO(s.id).pendingTasks()).filter((t) => t.name === "pipeline");
    expect(pipeline).toMatchObject({ attempts: 1 });
    expect(pipeline!.lastError).toMatch(/missing from the chunk store/);
    expect(pipeline!.dueAt).toBeGreaterThan(Date.now());
    expect((await events(s.id)).some((e) => e.kind === "task-failed")).toBe(true);

    // The object restarts (everything in memory is gone) while still processing.
    await restart(s.id);
    await env.CHUNKS.put(victim!.key, saved);
    await makeTasksDue(s.id);
    expect(await settle(s.id, (st) => st === "stored")).toBe("stored");
    const view = await state(s.id);
    expect(view.merkleRoot).toMatch(/^[0-9a-f]{64}$/);
    expect(view.treeSize).toBe(3);
    const transitions = (await events(s.id)).filter((e) => e.kind === "transition").map((e) => `${e.fromState}→${e.toState}`);
    expect(transitions).toEqual(["created→recording", "recording→processing", "processing→stored"]);
  });

  it("gives up after the last attempt: the session becomes failed with the reason", async () => {
    const s = await stoppedSession("p2", "q2", 1);
    await env.CHUNKS.delete((await storedChunks(s.id)).map((o) => o.key));
    await api(`/api/v1/sessions/${s.id}/stop`, { method: "POST", headers: await userHeaders("p2") });
    // The session's own alarm may also fire between these steps (then a forced run finds nothing due):
    // drive attempts until the pipeline gives up, with a bound well above the attempt limit.
    for (let round = 0; round < 3 * MAX_PIPELINE_ATTEMPTS && (await state(s.id)).state !== "failed"; round++) {
      await makeTasksDue(s.id);
      await runDurableObjectAlarm(sessionDO(s.id));
    }
    const view = await state(s.id);
    expect(view.state).toBe("failed");
    expect(view.failure).toMatch(/missing from the chunk store/);
    expect((await sessionDO(s.id).pendingTasks()).some((t) => t.name === "pipeline")).toBe(false);
    expect((await events(s.id)).filter((e) => e.kind === "task-failed")).toHaveLength(MAX_PIPELINE_ATTEMPTS);
  });

  it("stored → anchored by the chain → completed; the evidence bundle verifies offline", async () => {
    const s = await stoppedSession("p3", "q3", 2);
    await api(`/api/v1/sessions/${s.id}/stop`, { method: "POST", headers: await userHeaders("p3") });
    expect(await settle(s.id, (st) => st === "stored")).toBe("stored");
    // A malformed anchor is refused and changes nothing.
    const early = await sessionDO(s.id).recordAnchor({
      chain: "lucid",
      blockHeight: 1,
      blockHash: "nothex",
      txId: "t",
      anchoredAt: new Date().toISOString(),
    });
    expect(early.ok).toBe(false);
    // The session's anchor task hands its root to the chain; the chain's alarm puts it in a block
    // and tells the session (its alarm may already have fired on its own: either way it settles).
    await settle(s.id, () => false, 2);
    const chain = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
    for (let i = 0; i < 10 && (await state(s.id)).state === "stored"; i++) {
      await runInDurableObject(chain, async (instance, ctx) => {
        const head = await instance.head();
        const { timing } = await instance.info();
        await instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
        // When the chain's own alarm already made a block in this slot, the block above is in the next
        // slot and its notice is due then, in the future: move the chain's clock as makeTasksDue does.
        ctx.storage.sql.exec("UPDATE anchor_notices SET next_at = 0");
      });
      await runDurableObjectAlarm(chain);
    }
    expect(await settle(s.id, (st) => st === "completed")).toBe("completed");
    const manifest = (await (await env.CHUNKS.get(`sessions/${s.id}/manifest.json`))!.json()) as { anchor: { blockHash: string } };
    const head = await chain.head();
    expect(manifest.anchor.blockHash).toBe(head.hash);

    const res = await api(`/api/v1/sessions/${s.id}/evidence`, { headers: await userHeaders("p3") });
    expect(res.status).toBe(200);
    const bundle = await res.json();
    expect((bundle as { parts?: unknown }).parts).toEqual([{ node: s.nodeId, firstIndex: 0, since: null }]); // one part: never handed over
    const chunks = [chunkBytes(0), chunkBytes(1)];
    const producer = (await chain.info()).producer;
    expect(await verifyEvidence(bundle, { chunkBytes: (i) => chunks[i], trustedProducers: [producer] })).toMatchObject({ ok: true });
    // One flipped byte in a chunk is named by the verifier.
    const flipped = chunks.map((c) => c.slice());
    flipped[1]![7]! ^= 1;
    const bad = await verifyEvidence(bundle, { chunkBytes: (i) => flipped[i] });
    expect(bad.ok ? "ok" : bad.failure.step).toBe("chunk 1");
    // Another user gets nothing.
    expect((await api(`/api/v1/sessions/${s.id}/evidence`, { headers: await userHeaders("someone-else") })).status).toBe(404);
  });

  it("state survives a restart: a new instance reads the same session from SQLite", async () => {
    const s = await stoppedSession("p4", "q4", 2);
    const before = await state(s.id);
    await restart(s.id);
    const after = await state(s.id);
    expect(after).toEqual(before);
    expect((await putChunk(s.id, 2, chunkBytes(2), "q4")).status).toBe(201);
  });
});

describe("retention", { timeout: 60_000 }, () => {
  it("deletes the chunks and destroys the key when the session expires; manifest and proofs stay", async () => {
    const s = await stoppedSession("r1", "t1", 3);
    await api(`/api/v1/sessions/${s.id}/stop`, { method: "POST", headers: await userHeaders("r1") });
    expect(await settle(s.id, (st) => st === "stored")).toBe("stored");
    expect(await storedChunks(s.id)).toHaveLength(3);
    const retention = (await sessionDO(s.id).pendingTasks()).find((t) => t.name === "retention");
    expect(retention!.dueAt).toBe((await state(s.id)).expiresAt);
    expect(retention!.dueAt - (await state(s.id)).createdAt).toBe(90 * 86_400_000);

    await makeTasksDue(s.id, { expire: true });
    await runDurableObjectAlarm(sessionDO(s.id));
    const view = (await (await api(`/api/v1/sessions/${s.id}`, { headers: await userHeaders("r1") })).json()) as SessionJson;
    expect(view).toMatchObject({ keyShredded: true, state: "stored" });
    expect(await storedChunks(s.id)).toHaveLength(0);
    expect((await api(`/api/v1/sessions/${s.id}/key`, { headers: await userHeaders("r1") })).status).toBe(410);
    expect((await api(`/api/v1/sessions/${s.id}/chunks/0`, { headers: await userHeaders("r1") })).status).toBe(410);
    // The wrapped key is really gone from storage, not just hidden.
    await runInDurableObject(sessionDO(s.id), (_instance: SessionDO, ctx) => {
      const row = ctx.storage.sql.exec("SELECT wrapped_key FROM session").one();
      expect(row.wrapped_key).toBeNull();
    });
    const manifest = await api(`/api/v1/sessions/${s.id}/manifest`, { headers: await userHeaders("r1") });
    expect(manifest.status).toBe(200);
    const { root } = (await manifest.json()) as { root: string };
    const proof = (await (await api(`/api/v1/sessions/${s.id}/chunks/1/proof`, { headers: await userHeaders("r1") })).json()) as {
      leafHash: string;
      path: string[];
    };
    expect(verifyInclusion(fromHex(proof.leafHash), 1, 3, proof.path.map(fromHex), fromHex(root))).toBe(true);
    expect(await env.CHUNKS.head(`sessions/${s.id}/manifest.json`)).not.toBeNull();
  });
});
