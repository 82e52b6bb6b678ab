import { and, asc, desc, eq, gt, gte, lte, sql } from "drizzle-orm";
import type { SignedHeader } from "../../shared/chain/block.ts";
import { epochOfSlot, slotAt } from "../../shared/chain/schedule.ts";
import { anchorMemo, type TronAnchorProof } from "../../shared/chain/tron-anchor.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { logEvent } from "../../shared/log.ts";
import type { ChainState } from "./state.ts";
import * as schema from "./schema.ts";
import { backoffMs } from "../scheduler.ts";
import { singleton } from "../../platform/objects.ts";

/**
 * Once an epoch has ended, anchors the head it ended with on TRON through the payments function
 * (LedgerDO.anchorOnTron), then follows that TRON transaction to solidification, a few epochs
 * at a time, with back-off when the ledger or TRON cannot help yet (no hot wallet, node down).
 * A reorg that replaces an anchored block before it is solidified re-anchors the new one.
 */
export async function anchorEpochsOnTron(state: ChainState, now: number): Promise<void> {
  const { db, config, timing, env } = state;
  if (!config.CHAIN_TRON_ANCHORING) return;
  const closed = epochOfSlot(timing, slotAt(timing, now)) - 1;
  if (closed >= 0) {
    const last = db.select().from(schema.blocks).where(lte(schema.blocks.epoch, closed)).orderBy(desc(schema.blocks.height)).limit(1).get();
    if (last && last.epoch === closed) {
      db.insert(schema.tronAnchors)
        .values({ epoch: closed, height: last.height, hash: last.hash, state: "pending", nextAt: now, updatedAt: now })
        .onConflictDoNothing()
        .run();
    }
  }
  const due = db
    .select()
    .from(schema.tronAnchors)
    .where(and(lte(schema.tronAnchors.nextAt, now), sql`${schema.tronAnchors.state} != 'solidified'`))
    .orderBy(asc(schema.tronAnchors.epoch))
    .limit(4)
    .all();
  const ledger = singleton(env, "LEDGER");
  for (let row of due) {
    const current = db
      .select()
      .from(schema.blocks)
      .where(eq(schema.blocks.epoch, row.epoch))
      .orderBy(desc(schema.blocks.height))
      .limit(1)
      .get();
    if (!current) {
      db.delete(schema.tronAnchors).where(eq(schema.tronAnchors.epoch, row.epoch)).run();
      continue;
    }
    if (current.hash !== row.hash) {
      const reset = {
        height: current.height,
        hash: current.hash,
        state: "pending" as const,
        txid: null,
        rawDataHex: null,
        blockNumber: null,
        confirmations: 0,
        attempts: 0,
      };
      db.update(schema.tronAnchors).set(reset).where(eq(schema.tronAnchors.epoch, row.epoch)).run();
      row = { ...row, ...reset };
    }
    const memo = anchorMemo(config.BLOCKCHAIN_NETWORK, row.epoch, row.height, row.hash);
    const memoHex = toHex(new TextEncoder().encode(memo));
    let error: string | null = null;
    try {
      const result = await ledger.anchorOnTron(`chain:${config.BLOCKCHAIN_NETWORK}:${row.epoch}:${row.hash.slice(0, 16)}`, memoHex);
      if (result.ok) {
        const v = result.value;
        db.update(schema.tronAnchors)
          .set({
            state: v.state,
            txid: v.txid,
            rawDataHex: v.rawDataHex,
            blockNumber: v.blockNumber,
            confirmations: v.confirmations,
            attempts: 0,
            nextAt: now + timing.slotMs,
            lastError: null,
            updatedAt: now,
          })
          .where(and(eq(schema.tronAnchors.epoch, row.epoch), eq(schema.tronAnchors.hash, row.hash)))
          .run();
        if (v.state === "solidified")
          logEvent("info", "chain.tron_anchor_solidified", {
            epoch: row.epoch,
            height: row.height,
            txid: v.txid,
            blockNumber: v.blockNumber,
          });
        continue;
      }
      error = `${result.problem.slug}: ${result.problem.detail}`;
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    const attempts = row.attempts + 1;
    db.update(schema.tronAnchors)
      .set({
        attempts,
        nextAt: now + backoffMs(attempts, { baseMs: 2 * timing.slotMs, maxMs: 3_600_000 }),
        lastError: error,
        updatedAt: now,
      })
      .where(eq(schema.tronAnchors.epoch, row.epoch))
      .run();
    logEvent("warn", "chain.tron_anchor_failed", { epoch: row.epoch, attempts, error });
  }
}

/** The first TRON anchor at or above `block`'s height that TRON has included, with the headers linking to it. */
export function tronProof(state: ChainState, block: SignedHeader): TronAnchorProof | undefined {
  const { db } = state;
  const row = db
    .select()
    .from(schema.tronAnchors)
    .where(and(gte(schema.tronAnchors.height, block.header.height), sql`${schema.tronAnchors.state} IN ('included', 'solidified')`))
    .orderBy(asc(schema.tronAnchors.height))
    .limit(1)
    .get();
  if (!row || !row.txid || !row.rawDataHex || row.blockNumber === null) return undefined;
  const headers = db
    .select()
    .from(schema.blocks)
    .where(and(gt(schema.blocks.height, block.header.height), lte(schema.blocks.height, row.height)))
    .orderBy(asc(schema.blocks.height))
    .all()
    .map((r) => state.signed(r));
  if ((headers.at(-1)?.hash ?? block.hash) !== row.hash) return undefined; // anchored block no longer on this chain
  return {
    network: state.config.TRON_NETWORK,
    txid: row.txid,
    rawDataHex: row.rawDataHex,
    blockNumber: row.blockNumber,
    confirmations: row.confirmations,
    solidified: row.state === "solidified",
    headers,
  };
}

/** Where the TRON anchors stand (newest first). */
export function listTronAnchors(state: ChainState, limit: number) {
  return state.db.select().from(schema.tronAnchors).orderBy(desc(schema.tronAnchors.epoch)).limit(limit).all();
}
