// An in-memory TRON chain with java-tron's validation rules for the contracts Lucid uses.
// Transactions are decoded from their signed protobuf bytes with tronweb's generated classes
// (java-tron's own .proto files), independently of shared/tron's encoder.
import { createHash } from "node:crypto";
import { utils } from "tronweb";
import { recoverSigner } from "../../shared/tron/transaction.ts";
import { toBase58Address, toHexAddress } from "../../shared/tron/address.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const Proto = (globalThis as any).TronWebProto;
void utils; // importing tronweb registers TronWebProto

export const BLOCK_INTERVAL_MS = 3_000;
export const SOLIDIFY_DEPTH = 19;
export const UNFREEZE_WAIT_MS = 14 * 24 * 3600 * 1000;
/** Energy a TRC20 transfer burns without staked energy (≈ mainnet: 14 650 energy × 420 sun). */
export const TRC20_BURN_SUN = 6_153_000n;

type Resource = "BANDWIDTH" | "ENERGY";
const RESOURCE_NAMES: Resource[] = ["BANDWIDTH", "ENERGY"];

interface Account {
  balance: bigint;
  createTime: number;
  frozen: Record<Resource, bigint>;
  unfrozen: { resource: Resource; amount: bigint; expireTime: number }[];
}
interface Token {
  balances: Map<string, bigint>;
  allowances: Map<string, bigint>;
  decimals: number;
}
interface State {
  accounts: Map<string, Account>;
  tokens: Map<string, Token>;
}
interface Block {
  number: number;
  blockID: string;
  parentHash: string;
  timestamp: number;
  txIDs: string[];
}
export interface SignedTx {
  txID: string;
  raw_data: Record<string, unknown>;
  raw_data_hex: string;
  signature?: string[];
  visible?: boolean;
}
interface Included {
  tx: SignedTx;
  blockNumber: number;
  info: Record<string, unknown>;
}
export interface Transfer {
  txID: string;
  token: string;
  from: string;
  to: string;
  amount: bigint;
  blockNumber: number;
}

type DecodedContract =
  | { kind: "transfer"; owner: string; to: string; amount: bigint }
  | { kind: "trigger"; owner: string; contract: string; data: string; callValue: bigint }
  | { kind: "freeze" | "unfreeze"; owner: string; amount: bigint; resource: Resource | undefined }
  | { kind: "withdraw"; owner: string };

export class BroadcastError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const sha256Hex = (hex: string) => createHash("sha256").update(Buffer.from(hex, "hex")).digest("hex");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function cloneState(state: State): State {
  return {
    accounts: new Map(
      [...state.accounts].map(([k, a]) => [k, { ...a, frozen: { ...a.frozen }, unfrozen: a.unfrozen.map((u) => ({ ...u })) }]),
    ),
    tokens: new Map(
      [...state.tokens].map(([k, t]) => [k, { decimals: t.decimals, balances: new Map(t.balances), allowances: new Map(t.allowances) }]),
    ),
  };
}

export class TronChain {
  state: State = { accounts: new Map(), tokens: new Map() };
  readonly blocks: Block[] = [];
  readonly pending: SignedTx[] = [];
  readonly included = new Map<string, Included>();
  readonly transfers: Transfer[] = [];
  /** How many times each txid reached broadcasttransaction (accepted or not). */
  readonly broadcastAttempts = new Map<string, number>();
  readonly #snapshots = new Map<number, State>();
  #timeOffset = 0;
  /** The state with every pending transaction applied; rebuilt after each block. */
  #pendingState: State | null = null;

  constructor(tokenContracts: string[], now = Date.now()) {
    for (const contract of tokenContracts) {
      this.state.tokens.set(toHexAddress(contract), { balances: new Map(), allowances: new Map(), decimals: 6 });
    }
    const genesis: Block = { number: 0, blockID: "", parentHash: "00".repeat(32), timestamp: now - (now % BLOCK_INTERVAL_MS), txIDs: [] };
    genesis.blockID = this.#blockId(genesis);
    this.blocks.push(genesis);
    this.#snapshots.set(0, cloneState(this.state));
  }

  get head(): Block {
    return this.blocks[this.blocks.length - 1]!;
  }

  get solidHead(): Block {
    return this.blocks[Math.max(0, this.head.number - SOLIDIFY_DEPTH)]!;
  }

  /** The state as of the latest solidified block (what /walletsolidity answers from). */
  get solidState(): State {
    return this.#snapshots.get(this.solidHead.number) ?? this.state;
  }

  /** Call after editing `state` directly, so pending validation sees the edit. */
  stateChanged(): void {
    this.#pendingState = null;
  }

  advanceTime(ms: number): void {
    this.#timeOffset += ms;
  }

  fund(address: string, sun: bigint, token?: { contract: string; units: bigint }): void {
    this.#pendingState = null;
    const account = this.#account(this.state, toHexAddress(address), true)!;
    account.balance += sun;
    if (token) {
      const t = this.state.tokens.get(toHexAddress(token.contract));
      if (!t) throw new Error(`unknown token ${token.contract}`);
      const holder = toHexAddress(address);
      t.balances.set(holder, (t.balances.get(holder) ?? 0n) + token.units);
    }
  }

  produceBlocks(count: number): Block {
    for (let i = 0; i < count; i++) this.#produceBlock();
    return this.head;
  }

  /** Validates like java-tron's broadcast path, then queues the transaction for the next block. */
  broadcast(tx: SignedTx): void {
    this.broadcastAttempts.set(tx.txID, (this.broadcastAttempts.get(tx.txID) ?? 0) + 1);
    const rawHex = String(tx.raw_data_hex ?? "");
    const fromJson = utils.transaction.txPbToRawDataHex(utils.transaction.txJsonToPb(tx)).toLowerCase();
    if (rawHex.toLowerCase() !== fromJson) throw new BroadcastError("OTHER_ERROR", "raw_data_hex does not match raw_data");
    if (sha256Hex(rawHex) !== tx.txID) throw new BroadcastError("SIGERROR", "Validate signature error: txID is not sha256(raw_data)");
    const raw = Proto.Transaction.raw.deserializeBinary(Buffer.from(rawHex, "hex"));
    const contract = this.#decodeContract(raw);
    if (!tx.signature?.length) throw new BroadcastError("SIGERROR", "Validate signature error: miss sig or contract");
    let signer: string;
    try {
      signer = toHexAddress(recoverSigner(tx.txID, tx.signature[0]!));
    } catch {
      throw new BroadcastError("SIGERROR", "Validate signature error: bad signature");
    }
    if (signer !== contract.owner) {
      throw new BroadcastError(
        "SIGERROR",
        `Validate signature error: ${toBase58Address(signer)} is signed by ${toBase58Address(signer)} but it is not contained of permission.`,
      );
    }
    if (this.included.has(tx.txID) || this.pending.some((p) => p.txID === tx.txID)) {
      throw new BroadcastError("DUP_TRANSACTION_ERROR", "Dup transaction.");
    }
    const refBytes = hex(raw.getRefBlockBytes_asU8());
    const refHash = hex(raw.getRefBlockHash_asU8());
    const ref = this.blocks.find(
      (b) => b.number.toString(16).padStart(8, "0").slice(-4) === refBytes && b.blockID.slice(16, 32) === refHash,
    );
    if (!ref || this.head.number - ref.number > 65_535) throw new BroadcastError("TAPOS_ERROR", "Tapos check error");
    if (raw.getExpiration() <= this.head.timestamp) throw new BroadcastError("TRANSACTION_EXPIRATION_ERROR", "Transaction expired");
    if (raw.getExpiration() > this.head.timestamp + 24 * 3600 * 1000) {
      throw new BroadcastError("TRANSACTION_EXPIRATION_ERROR", "expiration too far in the future");
    }
    // Validate against the state including pending transactions, as java-tron's pending pool does.
    this.#pendingState ??= cloneState(this.state);
    const validationError = this.#validate(this.#pendingState, contract, this.head.timestamp);
    if (validationError) throw new BroadcastError("CONTRACT_VALIDATE_ERROR", `Contract validate error : ${validationError}`);
    this.#execute(this.#pendingState, tx, this.head.timestamp, null);
    this.pending.push(structuredClone(tx));
  }

  #decodeContract(raw: { getContractList(): unknown[] }): DecodedContract {
    const list = raw.getContractList() as { getType(): number; getParameter(): { getTypeUrl(): string; getValue_asU8(): Uint8Array } }[];
    if (list.length !== 1) throw new BroadcastError("CONTRACT_VALIDATE_ERROR", "one contract per transaction");
    const c = list[0]!;
    const value = c.getParameter().getValue_asU8();
    switch (c.getType()) {
      case 1: {
        const m = Proto.TransferContract.deserializeBinary(value);
        return {
          kind: "transfer" as const,
          owner: hex(m.getOwnerAddress_asU8()),
          to: hex(m.getToAddress_asU8()),
          amount: BigInt(m.getAmount()),
        };
      }
      case 31: {
        const m = Proto.TriggerSmartContract.deserializeBinary(value);
        return {
          kind: "trigger" as const,
          owner: hex(m.getOwnerAddress_asU8()),
          contract: hex(m.getContractAddress_asU8()),
          data: hex(m.getData_asU8()),
          callValue: BigInt(m.getCallValue()),
        };
      }
      case 54: {
        const m = Proto.FreezeBalanceV2Contract.deserializeBinary(value);
        return {
          kind: "freeze" as const,
          owner: hex(m.getOwnerAddress_asU8()),
          amount: BigInt(m.getFrozenBalance()),
          resource: RESOURCE_NAMES[m.getResource()],
        };
      }
      case 55: {
        const m = Proto.UnfreezeBalanceV2Contract.deserializeBinary(value);
        return {
          kind: "unfreeze" as const,
          owner: hex(m.getOwnerAddress_asU8()),
          amount: BigInt(m.getUnfreezeBalance()),
          resource: RESOURCE_NAMES[m.getResource()],
        };
      }
      case 56: {
        const m = Proto.WithdrawExpireUnfreezeContract.deserializeBinary(value);
        return { kind: "withdraw" as const, owner: hex(m.getOwnerAddress_asU8()) };
      }
      default:
        throw new BroadcastError("CONTRACT_VALIDATE_ERROR", `contract type ${c.getType()} is not supported by this double`);
    }
  }

  #validate(state: State, c: DecodedContract, now: number): string | null {
    const owner = this.#account(state, c.owner, false);
    if (!owner) return `Account[${c.owner}] does not exist`;
    switch (c.kind) {
      case "transfer":
        if (c.amount <= 0n) return "Amount must be greater than 0.";
        if (c.to === c.owner) return "Cannot transfer TRX to yourself.";
        if (owner.balance < c.amount) return `Validate TransferContract error, balance is not sufficient.`;
        return null;
      case "trigger":
        if (!state.tokens.has(c.contract)) return "No contract or not a smart contract";
        if (owner.balance < c.callValue) return "balance is not sufficient";
        return null;
      case "freeze":
        if (!c.resource) return "ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]";
        if (c.amount < 1_000_000n) return "frozenBalance must be greater than or equal to 1 TRX";
        if (c.amount > owner.balance) return "frozenBalance must be less than or equal to accountBalance";
        return null;
      case "unfreeze":
        if (!c.resource) return "ResourceCode error";
        if (owner.frozen[c.resource] < c.amount || c.amount <= 0n)
          return "Invalid unfreeze_balance, [unfreeze_balance] must be less than or equal to [frozen_balance]";
        return null;
      case "withdraw":
        if (!owner.unfrozen.some((u) => u.expireTime <= now)) return "no unFreeze balance to withdraw ";
        return null;
    }
  }

  /** Applies a transaction to `state`; returns its transaction info (the receipt). */
  #execute(state: State, tx: SignedTx, now: number, blockNumber: number | null): Record<string, unknown> {
    const raw = Proto.Transaction.raw.deserializeBinary(Buffer.from(tx.raw_data_hex, "hex"));
    const c = this.#decodeContract(raw);
    const info: Record<string, unknown> = { id: tx.txID, fee: 0, contractResult: [""], receipt: { net_usage: 345 } };
    if (this.#validate(state, c, now)) {
      // Became invalid since broadcast (e.g. a competing transaction): java-tron drops it.
      return { ...info, result: "FAILED", resMessage: Buffer.from("validation failed").toString("hex") };
    }
    const owner = this.#account(state, c.owner, true)!;
    switch (c.kind) {
      case "transfer":
        owner.balance -= c.amount;
        this.#account(state, c.to, true)!.balance += c.amount;
        break;
      case "freeze":
        owner.balance -= c.amount;
        owner.frozen[c.resource!] += c.amount;
        break;
      case "unfreeze":
        owner.frozen[c.resource!] -= c.amount;
        owner.unfrozen.push({ resource: c.resource!, amount: c.amount, expireTime: now + UNFREEZE_WAIT_MS });
        break;
      case "withdraw": {
        const ready = owner.unfrozen.filter((u) => u.expireTime <= now);
        owner.unfrozen = owner.unfrozen.filter((u) => u.expireTime > now);
        const amount = ready.reduce((sum, u) => sum + u.amount, 0n);
        owner.balance += amount;
        info.withdraw_expire_amount = Number(amount);
        break;
      }
      case "trigger":
        return { ...info, ...this.#executeTrc20(state, tx, c, owner, blockNumber) };
    }
    return info;
  }

  #executeTrc20(
    state: State,
    tx: SignedTx,
    c: { contract: string; data: string; owner: string },
    owner: Account,
    blockNumber: number | null,
  ): Record<string, unknown> {
    const feeLimit = BigInt(Number(tx.raw_data.fee_limit ?? 0));
    const burn = owner.frozen.ENERGY > 0n ? 0n : TRC20_BURN_SUN;
    const receipt: Record<string, unknown> = { energy_usage_total: 14_650, net_usage: 345 };
    if (burn > feeLimit || burn > owner.balance) {
      const fee = burn > feeLimit ? feeLimit : owner.balance;
      owner.balance -= fee;
      return { fee: Number(fee), result: "FAILED", receipt: { ...receipt, energy_fee: Number(fee), result: "OUT_OF_ENERGY" } };
    }
    owner.balance -= burn;
    const token = state.tokens.get(c.contract)!;
    const selector = c.data.slice(0, 8);
    const word = (i: number) => c.data.slice(8 + i * 64, 8 + (i + 1) * 64);
    const addr = (w: string) => `41${w.slice(24)}`;
    const revert = () => ({
      fee: Number(burn),
      result: "FAILED",
      resMessage: Buffer.from("REVERT opcode executed").toString("hex"),
      contractResult: [""],
      receipt: { ...receipt, energy_fee: Number(burn), result: "REVERT" },
    });
    const ok = (logs: unknown[]) => ({
      fee: Number(burn),
      contractResult: ["0000000000000000000000000000000000000000000000000000000000000001"],
      contract_address: c.contract,
      receipt: { ...receipt, energy_fee: Number(burn), result: "SUCCESS" },
      log: logs,
    });
    const move = (from: string, to: string, amount: bigint) => {
      token.balances.set(from, (token.balances.get(from) ?? 0n) - amount);
      token.balances.set(to, (token.balances.get(to) ?? 0n) + amount);
      if (blockNumber !== null) this.transfers.push({ txID: tx.txID, token: c.contract, from, to, amount, blockNumber });
      const topic = (a: string) => a.slice(2).padStart(64, "0");
      return {
        address: c.contract.slice(2),
        topics: ["ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", topic(from), topic(to)],
        data: amount.toString(16).padStart(64, "0"),
      };
    };
    if (selector === "a9059cbb" && c.data.length === 8 + 128) {
      const to = addr(word(0));
      const amount = BigInt(`0x${word(1)}`);
      if ((token.balances.get(c.owner) ?? 0n) < amount) return revert();
      return ok([move(c.owner, to, amount)]);
    }
    if (selector === "095ea7b3" && c.data.length === 8 + 128) {
      token.allowances.set(`${c.owner}:${addr(word(0))}`, BigInt(`0x${word(1)}`));
      return ok([]);
    }
    if (selector === "23b872dd" && c.data.length === 8 + 192) {
      const from = addr(word(0));
      const amount = BigInt(`0x${word(2)}`);
      const key = `${from}:${c.owner}`;
      const allowed = token.allowances.get(key) ?? 0n;
      if (allowed < amount || (token.balances.get(from) ?? 0n) < amount) return revert();
      token.allowances.set(key, allowed - amount);
      return ok([move(from, addr(word(1)), amount)]);
    }
    return revert();
  }

  /** Read-only TRC20 calls (triggerconstantcontract). */
  call(contract: string, data: string, state: State = this.state): { ok: true; result: string } | { ok: false; message: string } {
    const token = state.tokens.get(contract);
    if (!token) return { ok: false, message: "No contract or not a valid smart contract" };
    const selector = data.slice(0, 8);
    const word = (i: number) => data.slice(8 + i * 64, 8 + (i + 1) * 64);
    const addr = (w: string) => `41${w.slice(24)}`;
    const uint = (v: bigint) => ({ ok: true as const, result: v.toString(16).padStart(64, "0") });
    if (selector === "70a08231" && data.length === 8 + 64) return uint(token.balances.get(addr(word(0))) ?? 0n);
    if (selector === "dd62ed3e" && data.length === 8 + 128) return uint(token.allowances.get(`${addr(word(0))}:${addr(word(1))}`) ?? 0n);
    if (selector === "313ce567" && data.length === 8) return uint(BigInt(token.decimals));
    return { ok: false, message: "REVERT opcode executed" };
  }

  accountJson(address: string, solid = false): Record<string, unknown> {
    const hexAddress = toHexAddress(address);
    const account = (solid ? this.solidState : this.state).accounts.get(hexAddress);
    if (!account) return {};
    const out: Record<string, unknown> = { address: hexAddress, create_time: account.createTime };
    if (account.balance > 0n) out.balance = Number(account.balance);
    out.frozenV2 = [
      account.frozen.BANDWIDTH > 0n ? { amount: Number(account.frozen.BANDWIDTH) } : {},
      account.frozen.ENERGY > 0n ? { type: "ENERGY", amount: Number(account.frozen.ENERGY) } : { type: "ENERGY" },
      { type: "TRON_POWER" },
    ];
    if (account.unfrozen.length) {
      out.unfrozenV2 = account.unfrozen.map((u) => ({
        ...(u.resource === "ENERGY" ? { type: "ENERGY" } : {}),
        unfreeze_amount: Number(u.amount),
        unfreeze_expire_time: u.expireTime,
      }));
    }
    return out;
  }

  blockJson(block: Block): Record<string, unknown> {
    return {
      blockID: block.blockID,
      block_header: {
        raw_data: {
          number: block.number,
          txTrieRoot: "00".repeat(32),
          witness_address: "41928c9af0651632157ef27a2cf17ca72c575a4d21",
          parentHash: block.parentHash,
          version: 31,
          timestamp: block.timestamp,
        },
        witness_signature: "00".repeat(65),
      },
      ...(block.txIDs.length ? { transactions: block.txIDs.map((id) => this.txJson(id)) } : {}),
    };
  }

  txJson(txID: string, solid = false): Record<string, unknown> {
    const entry = this.included.get(txID);
    if (!entry || (solid && entry.blockNumber > this.solidHead.number)) return {};
    const failed = entry.info.result === "FAILED";
    const receipt = entry.info.receipt as { result?: string } | undefined;
    return { ret: [{ contractRet: failed ? (receipt?.result ?? "FAILED") : "SUCCESS" }], ...entry.tx };
  }

  txInfoJson(txID: string, solid = false): Record<string, unknown> {
    const entry = this.included.get(txID);
    if (!entry || (solid && entry.blockNumber > this.solidHead.number)) return {};
    return entry.info;
  }

  #produceBlock(): void {
    const parent = this.head;
    const timestamp = Math.max(parent.timestamp + BLOCK_INTERVAL_MS, parent.timestamp + BLOCK_INTERVAL_MS + this.#timeOffset);
    this.#timeOffset = 0;
    const block: Block = { number: parent.number + 1, blockID: "", parentHash: parent.blockID, timestamp, txIDs: [] };
    for (const tx of this.pending.splice(0)) {
      const expiration = Number(tx.raw_data.expiration);
      if (expiration <= timestamp) continue; // expired in the pool: never included
      const info = this.#execute(this.state, tx, timestamp, block.number);
      if (info.result === "FAILED" && info.resMessage === Buffer.from("validation failed").toString("hex")) continue;
      block.txIDs.push(tx.txID);
      this.included.set(tx.txID, {
        tx,
        blockNumber: block.number,
        info: { ...info, blockNumber: block.number, blockTimeStamp: timestamp },
      });
    }
    block.blockID = this.#blockId(block);
    this.blocks.push(block);
    this.#pendingState = null;
    this.#snapshots.set(block.number, cloneState(this.state));
    this.#snapshots.delete(block.number - SOLIDIFY_DEPTH - 5);
  }

  #blockId(block: Block): string {
    const digest = createHash("sha256")
      .update(`${block.number}:${block.parentHash}:${block.timestamp}:${block.txIDs.join(",")}`)
      .digest("hex");
    return block.number.toString(16).padStart(16, "0") + digest.slice(16);
  }

  #account(state: State, hexAddress: string, create: boolean): Account | undefined {
    let account = state.accounts.get(hexAddress);
    if (!account && create) {
      account = { balance: 0n, createTime: this.head?.timestamp ?? Date.now(), frozen: { BANDWIDTH: 0n, ENERGY: 0n }, unfrozen: [] };
      state.accounts.set(hexAddress, account);
    }
    return account;
  }
}
