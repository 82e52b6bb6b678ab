// Peer sync over several rounds: a follower far behind its peer catches up within one sync run,
// page by page (CHAIN_SYNC_PAGE_BLOCKS=2) and round by round (CHAIN_SYNC_ROUND_BLOCKS=4, see
// vitest.config.ts), and a run whose time budget is spent stops after a round and re-arms the
// alarm at once. The peer is this deployment's own chain ("lucid-chain"), reached over HTTP
// through the real Worker entry (its public /api/v1/chain routes); the follower is a second
// ChainDO with the same producer key, so both derive the same schedule.
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { slotAt, slotStart } from "../../shared/chain/schedule.ts";
import { toHex } from "../../shared/merkle/index.ts";
import type { ChainDO } from "../../durable-objects/chain/index.ts";

const PEER_URL = "https://lucid.test";
const peer = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
const follower = (name: string) => env.CHAIN.get(env.CHAIN.idFromName(`chain-sync-${name}-${crypto.randomUUID()}`));
const transport = { peers: [PEER_URL], fetch: (url: string, init: RequestInit) => exports.default.fetch(new Request(url, init)) };
const BLOCKS = 11; // more than two rounds of 4, in pages of 2

function interimAnchor(sessionId: string) {
  const root = toHex(crypto.getRandomValues(new Uint8Array(32)));
  return { type: "anchor" as const, sessionId, root, chunkCount: 10, owner: "user-1", node: "node-1", interim: true };
}

/**
 * Produces one block per slot from `firstSlot` on `stub`, each holding one new transaction. The
 * alarm a submit arms is cleared at once: it would produce a block of the current slot meanwhile.
 */
async function produceBlocks(stub: DurableObjectStub<ChainDO>, firstSlot: number, count: number, tag: string) {
  await runInDurableObject(stub, async (instance: ChainDO, state) => {
    const { timing } = await instance.info();
    for (let i = 0; i < count; i++) {
      await instance.submit([interimAnchor(`${tag}-${i}`)]);
      await state.storage.deleteAlarm();
      expect(await instance.produceAt(slotStart(timing, firstSlot + i) + 1)).not.toBeNull();
    }
  });
}

let firstSlot = 0;
beforeAll(async () => {
  const { timing } = await peer.info();
  // Past slots, so every block is well within the clock-skew bound when the follower checks it.
  firstSlot = slotAt(timing, Date.now()) - 100;
  await produceBlocks(peer, firstSlot, BLOCKS, "peer");
});

describe("peer sync across rounds", () => {
  it("a follower more than a round behind catches up with the peer in one sync run", async () => {
    const chain = follower("behind");
    const head = await peer.head();
    expect(head.header.height).toBe(BLOCKS);
    const reports = await runInDurableObject(chain, (instance: ChainDO) => instance.syncWithPeers(Date.now(), transport));
    expect(reports).toEqual([
      { peer: PEER_URL, ok: true, rounds: 3, behind: false, result: expect.objectContaining({ adopted: true, height: BLOCKS }) },
    ]);
    expect(await chain.head()).toEqual(head);
    expect((await chain.stats()).transactions).toBe(BLOCKS);
    expect(await chain.audit()).toEqual({ ok: true, height: BLOCKS });
  });

  it("a run whose budget is spent stops after a round, re-arms the alarm at once, and the next run continues", async () => {
    const chain = follower("budget");
    // The budget counts from the start of the run: one that began a budget ago has none left.
    const startedLongAgo = Date.now() - 60_001;
    // Read the alarm in the same call: once due, it fires (and re-arms for later) by itself.
    const { first, alarm, armedBy } = await runInDurableObject(chain, async (instance: ChainDO, state) => {
      const first = await instance.syncWithPeers(startedLongAgo, transport);
      return { first, alarm: await state.storage.getAlarm(), armedBy: Date.now() };
    });
    expect(first).toEqual([
      { peer: PEER_URL, ok: true, rounds: 1, behind: true, result: expect.objectContaining({ adopted: true, height: 4 }) },
    ]);
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(armedBy);

    const second = await runInDurableObject(chain, (instance: ChainDO) => instance.syncWithPeers(Date.now(), transport));
    expect(second).toEqual([
      { peer: PEER_URL, ok: true, rounds: 2, behind: false, result: expect.objectContaining({ adopted: true, height: BLOCKS }) },
    ]);
    expect(await chain.head()).toEqual(await peer.head());
  });

  it("a follower on its own shorter fork keeps accumulating the peer's branch until it is heavier, then switches", async () => {
    const chain = follower("fork");
    await produceBlocks(chain, firstSlot, 5, "own"); // weight 5: a round of 4 peer blocks is not enough
    // Head and mempool read in the same call: the orphaned transactions arm an alarm that would produce.
    const { reports, head, stats } = await runInDurableObject(chain, async (instance: ChainDO) => {
      const reports = await instance.syncWithPeers(Date.now(), transport);
      return { reports, head: await instance.head(), stats: await instance.stats() };
    });
    // Imports at 4 (lighter, kept fetching), 8 (heavier: adopted) and the last 3 blocks.
    expect(reports).toEqual([
      { peer: PEER_URL, ok: true, rounds: 3, behind: false, result: expect.objectContaining({ adopted: true, height: BLOCKS }) },
    ]);
    expect(head).toEqual(await peer.head());
    // The follower's own transactions went back to its mempool.
    expect(stats.mempool).toBe(5);
  });
});
