// Blocks offered by a peer (ChainDO.importBlocks), fork choice and reorgs, the stored-chain audit
// and a restart in the middle of production, against the real ChainDO in workerd.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { sha256 } from "@noble/hashes/sha2.js";
import { beforeEach, describe, expect, it } from "vitest";
import { producerPublicKey, type SignedHeader } from "../../shared/chain/block.ts";
import { epochOfSlot, leaderOf, slotAt, slotStart, type ChainTiming } from "../../shared/chain/schedule.ts";
import { txId, type AnchorTx, type ChainTx } from "../../shared/chain/transactions.ts";
import type { CandidateBlock } from "../../shared/chain/validate.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { makeBlock as makeSignedBlock } from "./chain-helpers.ts";

// A chain instance of its own per test (the ChainDO does not depend on its name).
let name = "";
beforeEach(() => {
  name = `chain-fork-${crypto.randomUUID()}`;
});
const chain = () => env.CHAIN.get(env.CHAIN.idFromName(name));
const peerKey = new Uint8Array(32).fill(0x22);
const peer = producerPublicKey(peerKey);

function anchor(sessionId: string): AnchorTx {
  const root = toHex(sha256(new TextEncoder().encode(sessionId)));
  return { type: "anchor", sessionId, root, chunkCount: 1, owner: "user-1", node: "node-1", interim: false };
}

function makeBlock(parent: SignedHeader, slot: number, timing: ChainTiming, txs: ChainTx[] = [], key = peerKey): CandidateBlock {
  return makeSignedBlock(parent, slot, timing, txs, key);
}

/**
 * A past epoch shared by this instance and a second producer (the peer), and which slots each
 * leads in it: the schedule's seed is genesis since no block precedes that epoch.
 */
async function sharedEpoch() {
  const info = await chain().info();
  const timing = info.timing;
  const epoch = epochOfSlot(timing, slotAt(timing, Date.now())) - 1;
  const weights = [
    { producer: info.producer, weight: 1 },
    { producer: peer, weight: 1 },
  ];
  await chain().setEpochWeights(epoch, weights);
  const genesis = (await chain().blockByHeight(0))!;
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let slot = epoch * timing.epochSlots; slot < (epoch + 1) * timing.epochSlots && theirs.length < 20; slot++) {
    (leaderOf(slot, genesis.hash, weights) === info.producer ? ours : theirs).push(slot);
  }
  const produce = (slot: number) => runInDurableObject(chain(), (instance) => instance.produceAt(slotStart(timing, slot) + 1));
  return { info, timing, genesis, ours, theirs, produce };
}

describe("blocks from a peer", () => {
  it("adopts a heavier branch, returns the orphaned transactions to the mempool and includes them again, once", async () => {
    const { timing, genesis, ours, theirs, produce } = await sharedEpoch();
    const mine = anchor("session-mine");
    await chain().submit([mine]);
    const own = await produce(ours[0]!);
    expect(own?.header.height).toBe(1);

    // The peer built two blocks on genesis meanwhile: weight 2 against our 1.
    const theirsAnchor = anchor("session-theirs");
    const b1 = makeBlock(genesis, theirs[0]!, timing);
    const b2 = makeBlock(
      b1,
      theirs.find((s) => s > theirs[0]!)!,
      timing,
      [theirsAnchor],
    );
    // The orphaned anchor's withdrawal notice wakes the alarm at once, which would include the anchor
    // again in the current slot: hold the alarm back, this test picks the slot.
    const result = await runInDurableObject(chain(), async (instance, state) => {
      const imported = await instance.importBlocks([b1, b2]);
      await state.storage.deleteAlarm();
      return imported;
    });
    expect(result).toMatchObject({ adopted: true, valid: 2, orphaned: 1, height: 2, headHash: b2.hash });
    expect(await chain().transaction(txId(mine))).toMatchObject({ pending: true });
    expect(await chain().transaction(txId(theirsAnchor))).toMatchObject({ height: 2, txIndex: 0 });

    const next = await produce(ours.find((s) => s > b2.header.slot)!);
    expect(next).toMatchObject({ header: { height: 3, previousHash: b2.hash, txCount: 1 } });
    expect(await chain().transaction(txId(mine))).toMatchObject({ height: 3 });
    expect((await chain().stats()).anchors).toBe(2);

    // A lighter branch (one block on genesis) changes nothing, and neither does the same branch again.
    const lighter = makeBlock(genesis, theirs[1]!, timing);
    expect(await chain().importBlocks([lighter])).toMatchObject({ adopted: false, valid: 1, height: 3 });
    expect(await chain().importBlocks([b1, b2])).toMatchObject({ adopted: false, height: 3 });
    expect(await chain().audit()).toEqual({ ok: true, height: 3 });
  });

  it("refuses a bad signature, the wrong producer, an unknown or wrong parent and a future timestamp", async () => {
    const { timing, genesis, ours, theirs } = await sharedEpoch();
    const before = await chain().head();

    const good = makeBlock(genesis, theirs[0]!, timing);
    const forged = { ...good, signature: good.signature.replace(/^./, (c) => (c === "0" ? "1" : "0")) };
    expect(await chain().importBlocks([forged])).toMatchObject({ adopted: false, valid: 0, fault: { index: 0, fault: "bad-signature" } });

    const usurper = makeBlock(genesis, ours[0]!, timing); // signed by the peer in a slot this instance leads
    expect(await chain().importBlocks([usurper])).toMatchObject({ adopted: false, fault: { fault: "wrong-producer" } });

    const orphan = makeBlock({ ...genesis, hash: "ab".repeat(32) }, theirs[0]!, timing);
    expect(await chain().importBlocks([orphan])).toMatchObject({ adopted: false, fault: { fault: "unknown-parent" } });

    const future = makeBlock(genesis, slotAt(timing, Date.now()) + 100, timing);
    expect(await chain().importBlocks([future])).toMatchObject({ adopted: false, fault: { fault: "timestamp" } });

    const malformed = { ...good, header: { ...good.header, height: -1 } };
    expect(await chain().importBlocks([malformed])).toMatchObject({ adopted: false, fault: { fault: "malformed" } });
    expect(await chain().head()).toEqual(before);

    // A branch whose second block names another parent: the valid first block is kept, the rest refused.
    const stray = makeBlock({ ...good, hash: genesis.hash }, theirs[1]!, timing);
    const result = await chain().importBlocks([good, stray]);
    expect(result).toMatchObject({ adopted: true, valid: 1, height: 1, headHash: good.hash, fault: { index: 1, fault: "wrong-parent" } });
  });
});

describe("PoOT weights", () => {
  it("weigh each producer by the work credits its blocks recorded two epochs earlier, in the schedule and in fork choice", async () => {
    const info = await chain().info();
    const timing = info.timing;
    const epoch = epochOfSlot(timing, slotAt(timing, Date.now()));
    const creditEpoch = epoch - 2;
    const credit = {
      type: "work-credit",
      version: 1,
      id: "work-credit:n-w:1",
      nodeId: "n-w",
      pool: "pool-1",
      operatorId: "op-1",
      payoutAddress: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
      epoch: 1,
      epochStart: "2026-01-01T00:00:00.000Z",
      epochEnd: "2026-01-01T01:00:00.000Z",
      pootVersion: 1,
      operationalSeconds: 3000,
      sessionSeconds: 600,
      bytesRecorded: "1000",
      credits: 50,
      weight: 5,
    } as const;
    expect(await chain().submit([credit])).toMatchObject({ ok: true });
    await runInDurableObject(chain(), (instance) => instance.produceAt(slotStart(timing, creditEpoch * timing.epochSlots + 1) + 1));
    expect((await chain().epochSchedule(epoch)).weights).toEqual([{ producer: info.producer, weight: 6 }]);
    expect((await chain().epochSchedule(epoch - 1)).weights).toEqual([{ producer: info.producer, weight: 1 }]);
    await chain().submit([anchor("session-weighed")]);
    await runInDurableObject(chain(), (instance) => instance.produceAt(Date.now()));
    // The chain's weight: 1 for the block in the credit epoch, 6 for the block in this one.
    expect(await chain().stats()).toMatchObject({ height: 2, weight: 7 });
    expect(await chain().audit()).toEqual({ ok: true, height: 2 });
  });
});

describe("the stored chain", () => {
  it("an altered stored field of any block is named by the audit", async () => {
    const { ours, produce } = await sharedEpoch();
    await chain().submit([anchor("session-audit-1"), anchor("session-audit-2")]);
    await produce(ours[0]!);
    await chain().submit([anchor("session-audit-3")]);
    await produce(ours[1]!);
    expect(await chain().audit()).toEqual({ ok: true, height: 2 });

    const alterations: [string, string][] = [
      ["hash", "UPDATE blocks SET hash = '" + "cd".repeat(32) + "' WHERE height = 1"],
      ["signature", "UPDATE blocks SET signature = '" + "00".repeat(64) + "' WHERE height = 1"],
      [
        "header.timestamp",
        "UPDATE blocks SET header = json_set(header, '$.timestamp', json_extract(header, '$.timestamp') + 1) WHERE height = 1",
      ],
      ["header.producer", "UPDATE blocks SET header = json_set(header, '$.producer', '" + peer + "') WHERE height = 2"],
      ["header.previousHash", "UPDATE blocks SET header = json_set(header, '$.previousHash', '" + "ef".repeat(32) + "') WHERE height = 2"],
      ["header.txRoot", "UPDATE blocks SET header = json_set(header, '$.txRoot', '" + "00".repeat(32) + "') WHERE height = 2"],
      ["height", "UPDATE blocks SET height = 7 WHERE height = 2"],
      ["timestamp column", "UPDATE blocks SET timestamp = timestamp + 1 WHERE height = 1"],
      ["slot column", "UPDATE blocks SET slot = slot + 1 WHERE height = 2"],
      ["producer column", "UPDATE blocks SET producer = '" + peer + "' WHERE height = 1"],
      ["tx_count column", "UPDATE blocks SET tx_count = 5 WHERE height = 1"],
      [
        "transaction body",
        "UPDATE chain_txs SET body = replace(body, 'session-audit-1', 'session-audit-9') WHERE session_id = 'session-audit-1'",
      ],
      ["transaction order", "UPDATE chain_txs SET tx_index = 1 - tx_index WHERE height = 1"],
      ["transaction removed", "DELETE FROM chain_txs WHERE session_id = 'session-audit-3'"],
    ];
    for (const [field, statement] of alterations) {
      const report = await runInDurableObject(chain(), async (instance, state) => {
        const blocks = state.storage.sql.exec("SELECT * FROM blocks").toArray();
        const txs = state.storage.sql.exec("SELECT * FROM chain_txs").toArray();
        state.storage.sql.exec(statement);
        const audit = await instance.audit();
        // Put the stored rows back exactly as they were for the next alteration.
        state.storage.sql.exec("DELETE FROM blocks");
        state.storage.sql.exec("DELETE FROM chain_txs");
        for (const row of blocks) {
          const keys = Object.keys(row);
          state.storage.sql.exec(
            `INSERT INTO blocks (${keys.join(",")}) VALUES (${keys.map(() => "?").join(",")})`,
            ...keys.map((k) => row[k]),
          );
        }
        for (const row of txs) {
          const keys = Object.keys(row);
          state.storage.sql.exec(
            `INSERT INTO chain_txs (${keys.join(",")}) VALUES (${keys.map(() => "?").join(",")})`,
            ...keys.map((k) => row[k]),
          );
        }
        return audit;
      });
      expect(report.ok, field).toBe(false);
      expect(await chain().audit(), `restored after ${field}`).toEqual({ ok: true, height: 2 });
    }
  });

  it("a restart in the middle of production neither forks nor loses nor repeats a transaction", async () => {
    const { ours, produce } = await sharedEpoch();
    const first = [anchor("session-r1"), anchor("session-r2")];
    await chain().submit(first);
    await produce(ours[0]!);
    await chain().submit([anchor("session-r3")]);
    const { timing } = await sharedEpoch();
    // The object is torn down right after producing the next block, before the turn ends:
    // whatever survives must be either the old head with r3 queued or the new head without it.
    await expect(
      runInDurableObject(chain(), async (instance, state) => {
        await instance.produceAt(slotStart(timing, ours[1]!) + 1);
        state.abort("simulated restart");
      }),
    ).rejects.toThrow();
    const after = await chain().stats();
    expect([after.height, after.mempool]).toSatisfy(
      ([height, mempool]: number[]) => (height === 1 && mempool === 1) || (height === 2 && mempool === 0),
    );
    // Production resumes: the slot already used yields nothing, a later one takes what is left.
    expect(await produce(ours[0]!)).toBeNull();
    await produce(ours[1]!);
    await produce(ours[2]!);
    const stats = await chain().stats();
    expect(stats).toMatchObject({ anchors: 3, mempool: 0 });
    for (const tx of [...first, anchor("session-r3")])
      expect(await chain().transaction(txId(tx))).toMatchObject({ height: expect.any(Number) });
    expect(await chain().audit()).toEqual({ ok: true, height: stats.height });
  });
});
