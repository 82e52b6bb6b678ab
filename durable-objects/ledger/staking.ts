import { and, desc, eq, inArray } from "drizzle-orm";
import { formatUnits } from "../../shared/money.ts";
import { CircuitOpenError } from "../../shared/tron/breaker.ts";
import { TronUnavailableError } from "../../shared/tron/client.ts";
import { buildTransaction, type ContractSpec, type TronTransaction } from "../../shared/tron/transaction.ts";
import type { LedgerDeps } from "./deps.ts";
import { RefusalError, outcome, type Outcome } from "../../shared/outcome.ts";
import { parseAmount, ratePpm } from "./rules.ts";
import * as schema from "./schema.ts";
import { iso, stakeView, TRON_UNFREEZE_WAIT_MS, type StakeRow, type StakeView } from "./views.ts";

/**
 * TRX staking (Stake 2.0): freeze for energy or bandwidth, unfreeze after STAKING_DURATION_DAYS,
 * withdraw after TRON's 14 days. Each step's transaction is stored before it is broadcast and
 * settled from the solidified chain by the router's passes.
 */
export class Staking {
  readonly #d: LedgerDeps;

  constructor(deps: LedgerDeps) {
    this.#d = deps;
  }

  #stake(id: string): StakeRow {
    const row = this.#d.db.select().from(schema.stakes).where(eq(schema.stakes.id, id)).get();
    if (!row) throw new RefusalError("not-found", `No stake ${id}.`);
    return row;
  }

  async listStakes(): Promise<StakeView[]> {
    return this.#d.db
      .select()
      .from(schema.stakes)
      .orderBy(desc(schema.stakes.createdAt))
      .all()
      .map((s) => stakeView(s));
  }

  async stake(input: {
    idempotencyKey: string;
    walletId: string;
    amount: string;
    resource: "ENERGY" | "BANDWIDTH";
    actor: string;
  }): Promise<Outcome<StakeView>> {
    return outcome(async () => {
      const existing = this.#d.db.select().from(schema.stakes).where(eq(schema.stakes.idempotencyKey, input.idempotencyKey)).get();
      if (existing) return stakeView(existing);
      const config = this.#d.config();
      const amount = parseAmount(input.amount, { min: config.MIN_STAKING_AMOUNT, max: BigInt(Number.MAX_SAFE_INTEGER) });
      const signer = this.#d.signer(input.walletId);
      const { trx } = await this.#d.balances(signer.address, true);
      if (trx < amount)
        throw new RefusalError("insufficient-funds", "The wallet's TRX balance does not cover the stake.", {
          available: formatUnits(trx),
          needed: formatUnits(amount),
        });
      const now = Date.now();
      const row: StakeRow = {
        id: crypto.randomUUID(),
        idempotencyKey: input.idempotencyKey,
        walletId: input.walletId,
        amount,
        resource: input.resource,
        state: "freezing",
        rewardRatePpm: ratePpm(config.STAKING_REWARD_RATE),
        txJson: null,
        txid: null,
        expiration: null,
        frozenAt: null,
        unfreezeAfter: null,
        withdrawableAt: null,
        failureReason: null,
        createdAt: now,
        updatedAt: now,
      };
      const tx = await this.#signStakeTx(signer, {
        type: "FreezeBalanceV2Contract",
        owner: signer.address,
        amount,
        resource: input.resource,
      });
      this.#d.db
        .insert(schema.stakes)
        .values({ ...row, txJson: tx, txid: tx.txID, expiration: tx.raw_data.expiration })
        .run();
      this.#d.audit(input.actor, "stake.freeze", row.id, { amount: formatUnits(amount), resource: input.resource });
      await this.#sendStake(row.id, tx);
      return stakeView(this.#stake(row.id));
    });
  }

  async unstake(id: string, actor: string): Promise<Outcome<StakeView>> {
    return outcome(() => this.#stakeStep(id, actor, "frozen", "unfreezing"));
  }

  async withdrawStake(id: string, actor: string): Promise<Outcome<StakeView>> {
    return outcome(() => this.#stakeStep(id, actor, "unfrozen", "withdrawing"));
  }

  async #stakeStep(id: string, actor: string, from: "frozen" | "unfrozen", to: "unfreezing" | "withdrawing"): Promise<StakeView> {
    const row = this.#stake(id);
    if (row.state !== from) throw new RefusalError("conflict", `Stake ${id} is ${row.state}, not ${from}.`);
    const signer = this.#d.signer(row.walletId);
    // Lock periods run on chain time, the clock TRON itself enforces its 14 days with.
    const head = await this.#d.chain(() => this.#d.tron().nowBlock());
    const notBefore = from === "frozen" ? row.unfreezeAfter! : row.withdrawableAt!;
    if (head.timestamp < notBefore) {
      throw new RefusalError("conflict", `Stake ${id} is locked until ${iso(notBefore)}.`, { lockedUntil: iso(notBefore)! });
    }
    const spec: ContractSpec =
      to === "unfreezing"
        ? { type: "UnfreezeBalanceV2Contract", owner: signer.address, amount: row.amount, resource: row.resource }
        : { type: "WithdrawExpireUnfreezeContract", owner: signer.address };
    const tx = await this.#signStakeTx(signer, spec);
    const current = this.#stake(id);
    if (current.state !== from) throw new RefusalError("conflict", `Stake ${id} changed while signing.`);
    this.#d.db
      .update(schema.stakes)
      .set({ state: to, txJson: tx, txid: tx.txID, expiration: tx.raw_data.expiration, updatedAt: Date.now() })
      .where(eq(schema.stakes.id, id))
      .run();
    this.#d.audit(actor, to === "unfreezing" ? "stake.unfreeze" : "stake.withdraw", id);
    await this.#sendStake(id, tx);
    return stakeView(this.#stake(id));
  }

  async #signStakeTx(signer: { sign(tx: TronTransaction): TronTransaction }, spec: ContractSpec): Promise<TronTransaction> {
    const ref = await this.#d.chain(() => this.#d.tron().nowBlock());
    return signer.sign(buildTransaction(spec, ref));
  }

  async #sendStake(id: string, tx: TronTransaction): Promise<void> {
    try {
      const result = await this.#d.tron().broadcast(tx);
      if (!result.accepted && result.code !== "TAPOS_ERROR" && result.code !== "TRANSACTION_EXPIRATION_ERROR") {
        this.#settleStake(this.#stake(id), false, `${result.code}: ${result.message}`);
      }
    } catch (error) {
      if (!(error instanceof TronUnavailableError || error instanceof CircuitOpenError)) throw error;
      // Unknown outcome: the stored transaction is checked and re-sent by the router.
    }
    await this.#d.scheduleBatch();
  }

  /** The stake's pending step either happened (move on) or provably did not (step back). */
  #settleStake(row: StakeRow, success: boolean, reason: string | null, blockTimeStamp = 0): void {
    const config = this.#d.config();
    const next: Partial<StakeRow> = { updatedAt: Date.now(), failureReason: success ? null : reason };
    if (row.state === "freezing") {
      Object.assign(
        next,
        success
          ? { state: "frozen", frozenAt: blockTimeStamp, unfreezeAfter: blockTimeStamp + config.STAKING_DURATION_DAYS * 24 * 3600 * 1000 }
          : { state: "failed" },
      );
    } else if (row.state === "unfreezing") {
      Object.assign(next, success ? { state: "unfrozen", withdrawableAt: blockTimeStamp + TRON_UNFREEZE_WAIT_MS } : { state: "frozen" });
    } else if (row.state === "withdrawing") {
      Object.assign(next, success ? { state: "withdrawn" } : { state: "unfrozen" });
    } else return;
    this.#d.db
      .update(schema.stakes)
      .set(next)
      .where(and(eq(schema.stakes.id, row.id), eq(schema.stakes.state, row.state)))
      .run();
  }

  async reconcile(): Promise<void> {
    const rows = this.#d.db
      .select()
      .from(schema.stakes)
      .where(inArray(schema.stakes.state, ["freezing", "unfreezing", "withdrawing"]))
      .all();
    for (const row of rows) {
      const solid = await this.#d.tron().transactionInfo(row.txid!, true);
      if (solid) {
        this.#settleStake(row, solid.success, solid.success ? null : `on-chain result ${solid.result}`, solid.blockTimeStamp);
        continue;
      }
      if (await this.#d.tron().transactionInfo(row.txid!)) continue;
      const solidHead = await this.#d.tron().nowBlock(true);
      if (solidHead.timestamp > row.expiration!) this.#settleStake(row, false, `txid ${row.txid} expired unincluded`);
      else
        await this.#d
          .tron()
          .broadcast(row.txJson!)
          .catch(() => undefined);
    }
  }
}
