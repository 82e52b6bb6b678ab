// Who hears where a final anchor lands: the session that submitted it asking to be told
// (SessionDO's `anchor` task does), and nobody for anchors queued without asking (the API): a
// block naming thousands of session ids must not wake a Durable Object for each.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AnchorTx } from "../../shared/chain/transactions.ts";

const chain = () => env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));

const anchor = (sessionId: string): AnchorTx => ({
  type: "anchor",
  sessionId,
  root: "ab".repeat(32),
  chunkCount: 1,
  owner: "user-1",
  node: "node-1",
  interim: false,
});

/** The block of the slot after the head, and the outbox afterwards. */
async function produceNextSlot() {
  return runInDurableObject(chain(), async (instance, state) => {
    const head = await instance.head();
    const info = await instance.info();
    await instance.produceAt(Math.max(Date.now(), info.timing.genesisTime + (head.header.slot + 1) * info.timing.slotMs));
    return state.storage.sql.exec<{ session_id: string; notice: string }>("SELECT session_id, notice FROM anchor_notices").toArray();
  });
}

describe("anchor notices", () => {
  it("go to the sessions that asked, with the block that holds their anchor, and to no one else", async () => {
    expect(await chain().submit([anchor("nobody-asked")])).toMatchObject({ ok: true });
    expect(await chain().submit([anchor("asked-first")], { notify: true })).toMatchObject({ ok: true });
    const outbox = await produceNextSlot();
    const head = await chain().head();
    expect(outbox.map((row) => row.session_id)).toEqual(["asked-first"]);
    expect(JSON.parse(outbox[0]!.notice)).toMatchObject({ blockHash: head.hash, blockHeight: head.header.height });

    // Asking after the anchor is in a block (a repeat of the session's task) queues its notice at once.
    // (The chain's alarm is held back: it would deliver the notice before the outbox is read.)
    await runInDurableObject(chain(), async (_instance, state) => {
      state.storage.sql.exec("DELETE FROM anchor_notices");
      await state.storage.deleteAlarm();
    });
    expect(await chain().submit([anchor("nobody-asked")], { notify: true })).toMatchObject({ ok: true });
    const repeat = await runInDurableObject(chain(), (_instance, state) =>
      state.storage.sql.exec<{ session_id: string; notice: string }>("SELECT session_id, notice FROM anchor_notices").toArray(),
    );
    expect(repeat.map((row) => row.session_id)).toEqual(["nobody-asked"]);
    expect(JSON.parse(repeat[0]!.notice)).toMatchObject({ blockHash: head.hash });
  });
});
