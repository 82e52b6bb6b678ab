import { and, asc, eq, isNull, lte } from "drizzle-orm";
import { chunkStoreFor } from "../../platform/chunk-store/index.ts";
import { logEvent } from "../../shared/log.ts";
import { archiveKey, writeArchive } from "./archive.ts";
import type { ChainState } from "./state.ts";
import * as schema from "./schema.ts";

/**
 * Pruning: moves the transaction bodies of blocks more than `retention` below the head to the
 * chunk store as archive objects (at most `max` blocks per call); headers, ids and the
 * session/node indexes stay in SQLite, and every read goes through ChainState.blockTxs, so
 * queries and proofs do not change. The object is written before the bodies are dropped: a
 * crash in between only means the object is written again.
 */
export async function archiveOldBlocks(state: ChainState, retention: number, max: number): Promise<number> {
  const { db } = state;
  if (retention === 0) return 0;
  const cutoff = state.head().header.height - retention;
  const due = db
    .select()
    .from(schema.blocks)
    .where(and(lte(schema.blocks.height, cutoff), isNull(schema.blocks.archiveKey)))
    .orderBy(asc(schema.blocks.height))
    .limit(max)
    .all();
  const store = chunkStoreFor(state.env);
  for (const row of due) {
    const bodies = db
      .select({ body: schema.chainTxs.body })
      .from(schema.chainTxs)
      .where(eq(schema.chainTxs.height, row.height))
      .orderBy(asc(schema.chainTxs.txIndex))
      .all()
      .map((t) => t.body);
    const key = archiveKey(state.config.BLOCKCHAIN_NETWORK, row.height, row.hash);
    await writeArchive(store, key, state.signed(row), bodies);
    state.storage.transactionSync(() => {
      db.update(schema.chainTxs).set({ body: "" }).where(eq(schema.chainTxs.height, row.height)).run();
      db.update(schema.blocks)
        .set({ archiveKey: key })
        .where(and(eq(schema.blocks.height, row.height), eq(schema.blocks.hash, row.hash)))
        .run();
    });
  }
  if (due.length) logEvent("info", "chain.blocks_archived", { from: due[0]!.height, to: due.at(-1)!.height });
  return due.length;
}
