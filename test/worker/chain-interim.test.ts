// Rolling anchors: a recording session anchors its prefix root every CHAIN_INTERIM_ANCHOR_CHUNKS
// (10 here) chunks; the evidence bundle carries them and shared/verify checks the chunks against them.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { verifyEvidence } from "../../shared/verify.ts";
import { api } from "./helpers.ts";
import { chunkBytes, env, putChunk, recordingSession, sessionDO, settle, userHeaders } from "./session-helpers.ts";

const chain = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));

/** Produces blocks until the chain's mempool is empty (as its alarm would, slot after slot). */
async function drainMempool() {
  for (let i = 0; i < 10 && (await chain.stats()).mempool > 0; i++) {
    await runInDurableObject(chain, async (instance) => {
      const head = await instance.head();
      const { timing } = await instance.info();
      await instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
    });
  }
}

describe("rolling anchors while a session records", { timeout: 60_000 }, () => {
  it("anchors every 10th chunk prefix, and the evidence bundle carries and verifies them", async () => {
    const s = await recordingSession("i1", "n-i1");
    for (let i = 0; i < 9; i++) expect((await putChunk(s.id, i, chunkBytes(i), "n-i1")).status).toBe(201);
    expect((await sessionDO(s.id).pendingTasks()).some((t) => t.name === "interim")).toBe(false);
    expect((await putChunk(s.id, 9, chunkBytes(9), "n-i1")).status).toBe(201);
    expect((await sessionDO(s.id).pendingTasks()).some((t) => t.name === "interim")).toBe(true);
    // The session's alarm (due now: it may fire on its own first) submits the prefix root.
    const interim = await vi.waitFor(
      async () => {
        const found = await chain.interimAnchors(s.id);
        if (found.length > 0) return found;
        await runDurableObjectAlarm(sessionDO(s.id));
        await drainMempool();
        throw new Error("no interim anchor yet");
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(interim).toHaveLength(1);
    expect(interim[0]!.tx).toMatchObject({ sessionId: s.id, chunkCount: 10, interim: true });

    for (let i = 10; i < 13; i++) expect((await putChunk(s.id, i, chunkBytes(i), "n-i1")).status).toBe(201);
    await api(`/api/v1/sessions/${s.id}/stop`, { method: "POST", headers: await userHeaders("i1") });
    expect(await settle(s.id, (st) => st === "stored")).toBe("stored");
    await settle(s.id, () => false, 2); // the anchor task submits the final root
    for (let i = 0; i < 5 && !["anchored", "completed"].includes(await settle(s.id, (st) => st !== "stored", 1)); i++) {
      await drainMempool();
      await runDurableObjectAlarm(chain);
    }
    expect(await settle(s.id, (st) => st === "completed")).toBe("completed");

    const res = await api(`/api/v1/sessions/${s.id}/evidence`, { headers: await userHeaders("i1") });
    expect(res.status).toBe(200);
    const bundle = await res.json<{ interimAnchors: unknown[]; chunks: unknown[] }>();
    expect(bundle.interimAnchors).toHaveLength(1);
    const chunks = Array.from({ length: 13 }, (_, i) => chunkBytes(i));
    const result = await verifyEvidence(bundle, { chunkBytes: (i) => chunks[i], trustedProducers: [(await chain.info()).producer] });
    expect(result).toMatchObject({ ok: true });
    expect(result.checks.find((c) => c.step === "interim anchors")?.message).toContain("up to 10 chunks");
  });
});
