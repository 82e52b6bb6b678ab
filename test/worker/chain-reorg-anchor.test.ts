// A reorg that replaces the block holding a session's final anchor: the session's record of where
// it was anchored (its view and the manifest in the chunk store) must follow the winning chain,
// whether the winning branch carries the anchor itself or the anchor goes back to the mempool
// and into a later block. The competing branch is signed with the suite's producer key (the
// only producer of this single-producer test chain), in past slots above the fork point.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hexToBytes, type SignedHeader } from "../../shared/chain/block.ts";
import { slotStart } from "../../shared/chain/schedule.ts";
import type { ChainTx } from "../../shared/chain/transactions.ts";
import type { CandidateBlock } from "../../shared/chain/validate.ts";
import type { Anchor } from "../../shared/session.ts";
import { makeBlock } from "./chain-helpers.ts";
import { chunkBytes, env, putChunk, recordingSession, sessionDO, settle, userHeaders } from "./session-helpers.ts";
import { api } from "./helpers.ts";

const admin = { kind: "user" as const, userId: "root", role: "ADMIN" as const };
const chain = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
const producerKey = hexToBytes(env.CHAIN_PRODUCER_KEY!);

async function sessionAnchor(id: string): Promise<Anchor | null> {
  const view = await sessionDO(id).get(admin);
  if (!view.ok) throw new Error("session not readable");
  return view.value.anchor;
}

async function manifestAnchor(id: string): Promise<Anchor | null> {
  const object = await env.CHUNKS.get(`sessions/${id}/manifest.json`);
  return ((await object!.json()) as { anchor: Anchor | null }).anchor;
}

/** The chain's alarm, run now, with every queued notice due (the chain tells sessions from its alarm). */
async function chainAlarm() {
  await runInDurableObject(chain, async (_instance, state) => {
    state.storage.sql.exec("UPDATE anchor_notices SET next_at = 0");
    if ((await state.storage.getAlarm()) === null) await state.storage.setAlarm(Date.now() + 60_000);
  });
  await runDurableObjectAlarm(chain);
}

/** The chain's next block, produced now for the slot after its head (tests run faster than slots). */
async function produceNext() {
  await runInDurableObject(chain, async (instance) => {
    const head = await instance.head();
    const { timing } = await instance.info();
    await instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
  });
}

/** A session recorded, stored, anchored by the chain and completed. */
async function completedSession(owner: string, node: string) {
  const s = await recordingSession(owner, node);
  for (let i = 0; i < 2; i++) expect((await putChunk(s.id, i, chunkBytes(i, 4096, owner.length), node)).status).toBe(201);
  await api(`/api/v1/sessions/${s.id}/stop`, { method: "POST", headers: await userHeaders(owner) });
  expect(await settle(s.id, (st) => st === "stored")).toBe("stored");
  await settle(s.id, () => false, 2); // the anchor task hands the root to the chain
  for (let i = 0; i < 10 && (await sessionDO(s.id).get(admin)).ok && (await sessionAnchor(s.id)) === null; i++) {
    await produceNext();
    await chainAlarm();
  }
  expect(await settle(s.id, (st) => st === "completed")).toBe("completed");
  const anchor = (await sessionAnchor(s.id))!;
  expect(await manifestAnchor(s.id)).toEqual(anchor);
  return { id: s.id, anchor };
}

/**
 * A branch from the parent of `anchor`'s block, one block longer than the current chain above it
 * (so heavier), in the slots right above the fork point; `carry` goes into its last block.
 */
async function heavierBranch(anchor: Anchor, carry: ChainTx[]): Promise<CandidateBlock[]> {
  const { timing } = await chain.info();
  const fork = (await chain.blockByHeight(anchor.blockHeight - 1))!;
  const head = await chain.head();
  const length = head.header.height - fork.header.height + 1;
  // Blocks with future timestamps are refused: when earlier blocks were produced ahead of the wall
  // clock (tests force production), wait until the branch's last slot has begun. (A wall-clock
  // moment the refusal rule depends on, not a state to poll: so a bounded sleep until then.)
  const lastSlotStart = slotStart(timing, fork.header.slot + length);
  expect(lastSlotStart - Date.now()).toBeLessThan(45_000);
  while (Date.now() <= lastSlotStart + 1) await new Promise((r) => setTimeout(r, Math.min(1000, lastSlotStart + 2 - Date.now())));
  const out: CandidateBlock[] = [];
  let parent: SignedHeader = fork;
  for (let i = 1; i <= length; i++) {
    const next = makeBlock(parent, fork.header.slot + i, timing, i === length ? carry : [], producerKey);
    out.push(next);
    parent = next;
  }
  return out;
}

describe("a reorg replacing the block of a session's anchor", { timeout: 120_000 }, () => {
  it("moves the session's anchor (view and manifest) to the winning branch's block that carries it", async () => {
    const s = await completedSession("reorg-a", "reorg-node-a");
    const anchorTx = (await chain.transaction(s.anchor.txId))!.tx;
    const branch = await heavierBranch(s.anchor, [anchorTx]);
    const result = await chain.importBlocks(branch);
    expect(result).toMatchObject({ adopted: true });
    const winner = branch.at(-1)!;
    expect(winner.hash).not.toBe(s.anchor.blockHash);
    // The anchor is carried by the winning branch, not returned to the mempool. (Other transactions
    // of the replaced blocks may be: the test node's registration event, when the chain pulled it.)
    expect(await chain.transaction(s.anchor.txId)).toMatchObject({ height: winner.header.height });

    await chainAlarm();
    const moved = {
      chain: winner.header.chain,
      blockHeight: winner.header.height,
      blockHash: winner.hash,
      txId: s.anchor.txId,
      anchoredAt: new Date(winner.header.timestamp).toISOString(),
    };
    expect(await sessionAnchor(s.id)).toEqual(moved);
    expect(await manifestAnchor(s.id)).toEqual(moved);
    // The chain's evidence agrees with the session's record.
    const evidence = await chain.anchorEvidence(s.id);
    expect(evidence && "block" in evidence ? evidence.block.hash : null).toBe(winner.hash);
  });

  it("puts the session back to waiting while its anchor is in the mempool, then follows it into a new block", async () => {
    const s = await completedSession("reorg-b", "reorg-node-b");
    const branch = await heavierBranch(s.anchor, []);
    // The import and the outbox read in one call, the alarm held back: it would include the anchor again at once.
    const { result, outbox } = await runInDurableObject(chain, async (instance, state) => {
      const result = await instance.importBlocks(branch);
      await state.storage.deleteAlarm();
      return { result, outbox: state.storage.sql.exec("SELECT notice FROM anchor_notices WHERE tx_id = ?", s.anchor.txId).toArray() };
    });
    // The anchor back in the mempool (with the test node's registration event, if the chain had pulled it).
    expect(result).toMatchObject({ adopted: true });
    expect(result.orphaned).toBeGreaterThanOrEqual(1);
    expect(await chain.transaction(s.anchor.txId)).toMatchObject({ pending: true });

    // What the chain's alarm delivers first when this instance does not lead the next slot.
    expect(outbox).toHaveLength(1);
    const withdrawal = JSON.parse(outbox[0]!.notice as string);
    expect(withdrawal).toMatchObject({ withdrawn: true, txId: s.anchor.txId });
    const waiting = await sessionDO(s.id).withdrawAnchor(withdrawal);
    expect(waiting.ok).toBe(true);
    expect(await sessionAnchor(s.id)).toBeNull();
    expect(await manifestAnchor(s.id)).toBeNull();
    expect((await sessionDO(s.id).get(admin)).ok && (await sessionDO(s.id).get(admin))).toMatchObject({ value: { state: "completed" } });

    // The next slot's block includes the anchor again (forced, as completedSession does: the slot may
    // not have begun yet) and the chain's alarm tells the session where.
    await produceNext();
    await chainAlarm();
    const found = await chain.anchorEvidence(s.id);
    if (!found || "pending" in found) throw new Error("the anchor was not included again");
    expect(found.block.hash).not.toBe(s.anchor.blockHash);
    const again = await sessionAnchor(s.id);
    expect(again).toMatchObject({ blockHash: found.block.hash, blockHeight: found.block.header.height, txId: s.anchor.txId });
    expect(await manifestAnchor(s.id)).toEqual(again);
  });
});
