// GET /api/v1/chain/anchors/{sessionId}/interim: a session's rolling anchors, paginated, each with
// the proof shared/verify checks on its own (verifyInterimAnchor), through the real Worker entry.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { toHex } from "../../shared/merkle/index.ts";
import { verifyInterimAnchor } from "../../shared/verify.ts";
import { api, problemOf } from "./helpers.ts";
import { env } from "./session-helpers.ts";

const chain = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));

function anchor(sessionId: string, chunkCount: number, interim: boolean) {
  const root = toHex(crypto.getRandomValues(new Uint8Array(32)));
  return { type: "anchor" as const, sessionId, root, chunkCount, owner: "owner-r", node: "node-r", interim };
}

/** A block with whatever the mempool holds (as the chain's alarm would, and may have done already). */
async function produce() {
  await runInDurableObject(chain, async (instance) => {
    const head = await instance.head();
    const { timing } = await instance.info();
    await instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
  });
  expect((await chain.stats()).mempool).toBe(0);
}

interface Page {
  sessionId: string;
  total: number;
  offset: number;
  limit: number;
  next: number | null;
  anchors: { tx: { chunkCount: number; root: string }; txId: string; proof: unknown; block: { hash: string } }[];
}

describe("GET /api/v1/chain/anchors/{sessionId}/interim", () => {
  it("pages through a session's interim anchors, each verifiable on its own", async () => {
    const sessionId = "interim-route-1";
    // Three rolling anchors in two blocks, another session's in between, then the final anchor.
    expect((await chain.submit([anchor(sessionId, 10, true), anchor("interim-route-other", 10, true)])).ok).toBe(true);
    await produce();
    expect((await chain.submit([anchor(sessionId, 20, true), anchor(sessionId, 30, true)])).ok).toBe(true);
    await produce();
    expect((await chain.submit([anchor(sessionId, 31, false)])).ok).toBe(true);
    await produce();

    const first = await api(`/api/v1/chain/anchors/${sessionId}/interim?limit=2`);
    expect(first.status).toBe(200);
    const page1 = await first.json<Page>();
    expect(page1).toMatchObject({ sessionId, total: 3, offset: 0, limit: 2, next: 2 });
    expect(page1.anchors.map((a) => a.tx.chunkCount)).toEqual([10, 20]);
    const page2 = await (await api(`/api/v1/chain/anchors/${sessionId}/interim?offset=${page1.next}&limit=2`)).json<Page>();
    expect(page2).toMatchObject({ total: 3, offset: 2, next: null });
    expect(page2.anchors.map((a) => a.tx.chunkCount)).toEqual([30]);

    const { producer } = await chain.info();
    for (const item of [...page1.anchors, ...page2.anchors]) {
      expect(await verifyInterimAnchor(item, sessionId, { trustedProducers: [producer] })).toMatchObject({ ok: true });
    }
    // The same anchors the evidence bundle carries (ChainDO.interimAnchors).
    expect([...page1.anchors, ...page2.anchors].map((a) => a.txId)).toEqual((await chain.interimAnchors(sessionId)).map((a) => a.txId));
    // Anything altered is caught: another root, another session, another producer.
    const item = page1.anchors[1]!;
    expect(await verifyInterimAnchor({ ...item, tx: { ...item.tx, root: toHex(new Uint8Array(32)) } }, sessionId)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/not transaction/),
    });
    expect(await verifyInterimAnchor(item, "interim-route-other")).toMatchObject({
      ok: false,
      message: "not an interim anchor of this session",
    });
    expect(await verifyInterimAnchor(item, sessionId, { trustedProducers: ["00".repeat(32)] })).toMatchObject({ ok: false });
    expect(await verifyInterimAnchor({ tx: item.tx }, sessionId)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^malformed/),
    });
  });

  it("answers an empty list for a session the chain knows without interim anchors", async () => {
    expect((await chain.submit([anchor("interim-route-final-only", 3, false)])).ok).toBe(true);
    const queued = await (await api("/api/v1/chain/anchors/interim-route-final-only/interim")).json<Page>();
    expect(queued).toMatchObject({ total: 0, next: null, anchors: [] });
    await produce();
    const included = await (await api("/api/v1/chain/anchors/interim-route-final-only/interim")).json<Page>();
    expect(included).toMatchObject({ total: 0, offset: 0, limit: 20, next: null, anchors: [] });
  });

  it("refuses unknown sessions and bad parameters with problem+json, changing nothing", async () => {
    const before = await chain.stats();
    const unknown = await api("/api/v1/chain/anchors/no-such-session/interim");
    expect(unknown.status).toBe(404);
    expect(await problemOf(unknown)).toMatchObject({ type: "/problems/not-found", detail: expect.stringContaining("no-such-session") });
    for (const path of [
      "/interim-route-1/interim?limit=0",
      "/interim-route-1/interim?limit=101",
      "/interim-route-1/interim?offset=-1",
      "/interim-route-1/interim?offset=x",
      "/bad%20id/interim",
    ]) {
      const res = await api(`/api/v1/chain/anchors${path}`);
      expect(res.status, path).toBe(400);
      expect((await problemOf(res)).type).toBe("/problems/validation-failed");
    }
    expect(await chain.stats()).toEqual(before);
  });
});
