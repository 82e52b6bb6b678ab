// A ledger written before payouts had a unique txid can hold two `confirmed` payouts sharing one
// transfer (#15). Its next start must not fail on the unique index; the payout that was never
// paid goes back to an admin, and the one whose transfer landed keeps its txid.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LedgerDO } from "../../durable-objects/ledger/index.ts";
import { revertDuplicateTxids } from "../../durable-objects/ledger/repair.ts";

const TXID = "ab".repeat(32);

function insertConfirmed(sql: SqlStorage, id: string, createdAt: number, txid: string | null) {
  sql.exec(
    `INSERT INTO payouts (id, idempotency_key, recipient, amount, fee, net, source, requested_by, state, approved_by, wallet_id,
       batch_id, tx_json, txid, block_number, created_at, updated_at)
     VALUES (?, ?, 'TRecipient', 5000000, 0, 5000000, 'admin', 'admin-1', 'confirmed', 'admin-1', 'w1', 'b1', '{}', ?, 42, ?, ?)`,
    id,
    `key-${id}`,
    txid,
    createdAt,
    createdAt,
  );
}

describe("ledger repair before the unique txid index", () => {
  it("reverts every later payout sharing a txid, so the index can be built, and says why", async () => {
    const stub: DurableObjectStub<LedgerDO> = env.LEDGER.get(env.LEDGER.idFromName(crypto.randomUUID()));
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      // The ledger as it was before migration 0002 created the index.
      sql.exec("DROP INDEX payouts_txid");
      insertConfirmed(sql, "p-late", 3000, TXID);
      insertConfirmed(sql, "p-first", 1000, TXID);
      insertConfirmed(sql, "p-also", 2000, TXID);
      insertConfirmed(sql, "p-own", 1500, "cd".repeat(32));

      const reverted = revertDuplicateTxids(sql, 9000);
      expect(reverted.map((r) => r.id).sort()).toEqual(["p-also", "p-late"]);
      expect(reverted.every((r) => r.keptBy === "p-first")).toBe(true);
      // What migration 0002 runs now succeeds.
      sql.exec("CREATE UNIQUE INDEX `payouts_txid` ON `payouts` (`txid`)");

      const rows = sql
        .exec<{ id: string; state: string; txid: string | null; wallet_id: string | null }>(
          "SELECT id, state, txid, wallet_id FROM payouts ORDER BY id",
        )
        .toArray();
      expect(rows).toEqual([
        { id: "p-also", state: "requested", txid: null, wallet_id: null },
        { id: "p-first", state: "confirmed", txid: TXID, wallet_id: "w1" },
        { id: "p-late", state: "requested", txid: null, wallet_id: null },
        { id: "p-own", state: "confirmed", txid: "cd".repeat(32), wallet_id: "w1" },
      ]);
      const events = sql.exec<{ detail: string }>("SELECT detail FROM payout_events WHERE payout_id = 'p-late'").toArray();
      expect(events[0]?.detail).toContain(`txid ${TXID} is payout p-first's transfer`);
      // Once the index exists, the repair leaves everything alone.
      expect(revertDuplicateTxids(sql)).toEqual([]);
    });
    const late = await stub.getPayout("p-late");
    expect(late.ok && late.value.state).toBe("requested");
  });
});
