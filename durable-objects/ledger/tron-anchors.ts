import { and, asc, eq, isNull } from "drizzle-orm";
import { toBase58Address } from "../../shared/tron/address.ts";
import { buildTransaction, type TronTransaction } from "../../shared/tron/transaction.ts";
import type { LedgerDeps } from "./deps.ts";
import { RefusalError } from "../../shared/outcome.ts";
import * as schema from "./schema.ts";

/** TRON's black-hole address (0x41 followed by zeros): the memo rides on a 1-sun transfer to it. */
export const ANCHOR_RECIPIENT = toBase58Address(`41${"00".repeat(20)}`);

export interface TronAnchorView {
  key: string;
  memo: string;
  txid: string;
  /** The signed raw_data protobuf, hex: SHA-256 of it is the txid, and it carries the memo (field 10). */
  rawDataHex: string;
  state: "signed" | "broadcast" | "included" | "solidified";
  blockNumber: number | null;
  confirmations: number;
}

/**
 * Writes memos on TRON from the default hot wallet, for functions that anchor something there
 * (the Lucid chain's head hash each epoch). Each call with the same key moves the same anchor
 * forward: sign and store, broadcast, then look it up until it is solidified. A transaction that
 * expired without ever being seen is replaced by a fresh one; anything else is re-sent as is
 * (the txid is the idempotency key: a duplicate broadcast counts as accepted).
 */
export class TronAnchors {
  readonly #d: LedgerDeps;

  constructor(deps: LedgerDeps) {
    this.#d = deps;
  }

  async anchor(key: string, memoHex: string): Promise<TronAnchorView> {
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(key)) throw new RefusalError("validation-failed", "key must be a plain identifier.");
    if (!/^([0-9a-f]{2}){1,256}$/.test(memoHex)) throw new RefusalError("validation-failed", "memo must be 1–256 bytes of lower-case hex.");
    const tron = this.#d.tron();
    let row = this.#d.db.select().from(schema.tronAnchors).where(eq(schema.tronAnchors.key, key)).get();
    if (row && row.memo !== memoHex) throw new RefusalError("conflict", `Anchor ${key} already carries another memo.`);
    if (row && row.state !== "signed") {
      const info = await this.#d.chain(() => tron.transactionInfo(row!.txid));
      if (info) {
        const solid = await this.#d.chain(() => tron.transactionInfo(row!.txid, true));
        const head = await this.#d.chain(() => tron.nowBlock());
        const state = solid ? ("solidified" as const) : ("included" as const);
        this.#d.db
          .update(schema.tronAnchors)
          .set({ state, blockNumber: info.blockNumber, updatedAt: Date.now() })
          .where(eq(schema.tronAnchors.key, key))
          .run();
        return this.#view({ ...row, state, blockNumber: info.blockNumber }, head.number - info.blockNumber + 1);
      }
      const head = await this.#d.chain(() => tron.nowBlock());
      if (head.timestamp < row.expiration) {
        await this.#send(key, row.txJson);
        return this.#view(this.#row(key), 0);
      }
      row = undefined; // expired unseen: provably dead, sign a new one
    }
    if (!row) {
      const wallet = this.#d.db
        .select()
        .from(schema.wallets)
        .where(and(eq(schema.wallets.kind, "hot"), isNull(schema.wallets.deletedAt)))
        .orderBy(asc(schema.wallets.createdAt))
        .get();
      if (!wallet) throw new RefusalError("conflict", "No hot wallet exists to anchor from.");
      const signer = this.#d.signer(wallet.id);
      const ref = await this.#d.chain(() => tron.nowBlock());
      const memo = Uint8Array.from(memoHex.match(/../g)!.map((h) => parseInt(h, 16)));
      const tx = signer.sign(
        buildTransaction({ type: "TransferContract", owner: signer.address, to: ANCHOR_RECIPIENT, amount: 1n }, ref, { memo }),
      );
      const now = Date.now();
      const values = {
        memo: memoHex,
        walletId: wallet.id,
        txid: tx.txID,
        txJson: tx,
        expiration: tx.raw_data.expiration,
        state: "signed" as const,
        blockNumber: null,
        updatedAt: now,
      };
      // Stored before the first broadcast, so a crash never leaves an unknown transaction behind.
      this.#d.db
        .insert(schema.tronAnchors)
        .values({ key, createdAt: now, ...values })
        .onConflictDoUpdate({ target: schema.tronAnchors.key, set: values })
        .run();
      row = this.#row(key);
    }
    await this.#send(key, row.txJson);
    return this.#view(this.#row(key), 0);
  }

  async #send(key: string, tx: TronTransaction): Promise<void> {
    const result = await this.#d.chain(() => this.#d.tron().broadcast(tx));
    if (!result.accepted) {
      if (result.code === "DUP_TRANSACTION_ERROR") return;
      throw new RefusalError("conflict", `The TRON node refused the anchor: ${result.code} ${result.message}`);
    }
    this.#d.db
      .update(schema.tronAnchors)
      .set({ state: "broadcast", updatedAt: Date.now() })
      .where(and(eq(schema.tronAnchors.key, key), eq(schema.tronAnchors.state, "signed")))
      .run();
  }

  #row(key: string) {
    return this.#d.db.select().from(schema.tronAnchors).where(eq(schema.tronAnchors.key, key)).get()!;
  }

  #view(row: typeof schema.tronAnchors.$inferSelect, confirmations: number): TronAnchorView {
    const tx = row.txJson;
    return {
      key: row.key,
      memo: row.memo,
      txid: row.txid,
      rawDataHex: tx.raw_data_hex,
      state: row.state,
      blockNumber: row.blockNumber,
      confirmations,
    };
  }
}
