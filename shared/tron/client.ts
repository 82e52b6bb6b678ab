import { toHexAddress } from "./address.ts";
import { CircuitBreaker, CircuitOpenError } from "./breaker.ts";
import type { BlockRef, TronTransaction } from "./transaction.ts";
import { allowanceParameter, balanceOfParameter, decodeUint } from "./trc20.ts";

export interface TronClientOptions {
  rpcUrl: string;
  /** Sent as TRON-PRO-API-KEY (TronGrid). Never logged. */
  apiKey?: string;
  timeoutMs: number;
  /** Extra attempts after the first, for network errors, timeouts and 5xx. */
  retries: number;
  backoffMs?: number;
  breaker?: CircuitBreaker;
  fetch?: typeof fetch;
}

/** The node could not be reached or did not answer usably: the outcome of a write is unknown. */
export class TronUnavailableError extends Error {
  override name = "TronUnavailableError";
}

/** The node answered with an error (`{"Error": …}` or `result.code`). */
export class TronRejectedError extends Error {
  override name = "TronRejectedError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export type BroadcastOutcome = { accepted: true; duplicate: boolean } | { accepted: false; code: string; message: string };

export interface AccountInfo {
  exists: boolean;
  balance: bigint;
  frozen: { BANDWIDTH: bigint; ENERGY: bigint };
  unfrozen: { resource: "BANDWIDTH" | "ENERGY"; amount: bigint; expireTime: number }[];
}

export interface TransactionInfo {
  id: string;
  blockNumber: number;
  blockTimeStamp: number;
  fee: bigint;
  /** SUCCESS for plain transfers (whose receipt has no result) and successful contract calls. */
  result: string;
  success: boolean;
}

/** One TRC20 transfer as TronGrid's account history lists it (addresses base58, value in base units). */
export interface Trc20Transfer {
  txid: string;
  from: string;
  to: string;
  value: bigint;
  blockTimestamp: number;
}

/** Decodes java-tron's hex-encoded `message` fields, leaving plain text as it is. */
export function decodeMessage(message: unknown): string {
  if (typeof message !== "string") return "";
  if (/^([0-9a-fA-F]{2})+$/.test(message)) {
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
        Uint8Array.from(message.match(/../g)!.map((h) => parseInt(h, 16))),
      );
    } catch {
      return message;
    }
  }
  return message;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A java-tron / TronGrid HTTP client: every call has a timeout, retries with exponential
 * back-off (network errors, timeouts, 5xx), and goes through a circuit breaker. Writes carry an
 * idempotency key; for broadcasts the txid is the key, so a retried broadcast is at worst a
 * DUP_TRANSACTION_ERROR, which counts as accepted.
 */
export class TronClient {
  readonly breaker: CircuitBreaker;
  readonly options: TronClientOptions;
  readonly #fetch: typeof fetch;

  constructor(options: TronClientOptions) {
    this.options = options;
    this.breaker = options.breaker ?? new CircuitBreaker(5, 30_000);
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async post(path: string, body: unknown, idempotencyKey?: string): Promise<Record<string, unknown>> {
    return this.#request("POST", path, body, idempotencyKey);
  }

  /** TronGrid's v1 REST reads (GET with a query string). */
  async get(pathAndQuery: string): Promise<Record<string, unknown>> {
    return this.#request("GET", pathAndQuery);
  }

  async #request(method: "GET" | "POST", path: string, body?: unknown, idempotencyKey?: string): Promise<Record<string, unknown>> {
    return this.breaker.run(
      async () => {
        let lastError: unknown;
        for (let attempt = 0; attempt <= this.options.retries; attempt++) {
          if (attempt > 0) await sleep((this.options.backoffMs ?? 100) * 2 ** (attempt - 1));
          try {
            return await this.#once(method, path, body, idempotencyKey);
          } catch (error) {
            if (!(error instanceof TronUnavailableError)) throw error;
            lastError = error;
          }
        }
        throw lastError;
      },
      (error) => error instanceof TronUnavailableError,
    );
  }

  /**
   * A health probe: one getnowblock attempt (no retries) bounded by `timeoutMs`, through the
   * breaker, so a probe that fails counts towards opening it like any other call.
   */
  async probe(timeoutMs: number): Promise<{ block: number; latencyMs: number }> {
    const started = Date.now();
    const block = await this.breaker.run(
      () => this.#once("POST", "/wallet/getnowblock", {}, undefined, timeoutMs),
      (error) => error instanceof TronUnavailableError,
    );
    const raw = (block.block_header as { raw_data?: { number?: unknown } } | undefined)?.raw_data;
    if (typeof raw?.number !== "number") throw new TronUnavailableError("TRON getnowblock: malformed block");
    return { block: raw.number, latencyMs: Date.now() - started };
  }

  async #once(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    idempotencyKey?: string,
    timeoutMs = this.options.timeoutMs,
  ): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (method === "POST") headers["Content-Type"] = "application/json";
    if (this.options.apiKey) headers["TRON-PRO-API-KEY"] = this.options.apiKey;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    let response: Response;
    try {
      response = await this.#fetch(`${this.options.rpcUrl.replace(/\/$/, "")}${path}`, {
        method,
        headers,
        ...(method === "POST" ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : "network error";
      throw new TronUnavailableError(`TRON ${path}: ${reason}`);
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw new TronUnavailableError(`TRON ${path}: HTTP ${response.status}`);
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      throw new TronUnavailableError(`TRON ${path}: unreadable answer (HTTP ${response.status})`);
    }
    if (response.status >= 400 || typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new TronRejectedError(`HTTP_${response.status}`, `TRON ${path}: unexpected answer`);
    }
    const record = json as Record<string, unknown>;
    if (typeof record.Error === "string") throw new TronRejectedError("ERROR", record.Error);
    return record;
  }

  /**
   * Confirmed TRC20 transfers out of `owner` for one token since `minTimestamp` (TronGrid's
   * GET /v1/accounts/{address}/transactions/trc20), oldest first, following `meta.fingerprint`
   * for at most `maxPages` pages of 200.
   */
  async trc20TransfersFrom(owner: string, contract: string, minTimestamp: number, maxPages = 10): Promise<Trc20Transfer[]> {
    const out: Trc20Transfer[] = [];
    let fingerprint: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const query = new URLSearchParams({
        only_confirmed: "true",
        only_from: "true",
        contract_address: contract,
        min_timestamp: String(minTimestamp),
        order_by: "block_timestamp,asc",
        limit: "200",
      });
      if (fingerprint) query.set("fingerprint", fingerprint);
      const json = await this.get(`/v1/accounts/${owner}/transactions/trc20?${query}`);
      if (json.success !== true || !Array.isArray(json.data)) throw new TronUnavailableError("TRON trc20 history: malformed answer");
      for (const entry of json.data as Record<string, unknown>[]) {
        if (
          typeof entry.transaction_id !== "string" ||
          typeof entry.from !== "string" ||
          typeof entry.to !== "string" ||
          typeof entry.value !== "string" ||
          !/^\d+$/.test(entry.value)
        ) {
          throw new TronUnavailableError("TRON trc20 history: malformed transfer");
        }
        out.push({
          txid: entry.transaction_id,
          from: entry.from,
          to: entry.to,
          value: BigInt(entry.value),
          blockTimestamp: Number(entry.block_timestamp ?? 0),
        });
      }
      fingerprint = (json.meta as { fingerprint?: unknown } | undefined)?.fingerprint as string | undefined;
      if (!fingerprint || json.data.length === 0) return out;
    }
    return out;
  }

  /** Current block (for transaction references) and the round-trip latency. */
  async nowBlock(solid = false): Promise<BlockRef & { latencyMs: number }> {
    const started = Date.now();
    const block = await this.post(solid ? "/walletsolidity/getnowblock" : "/wallet/getnowblock", {});
    const raw = (block.block_header as { raw_data?: { number?: unknown; timestamp?: unknown } } | undefined)?.raw_data;
    if (typeof block.blockID !== "string" || typeof raw?.number !== "number" || typeof raw.timestamp !== "number") {
      throw new TronUnavailableError("TRON getnowblock: malformed block");
    }
    return { number: raw.number, blockID: block.blockID, timestamp: raw.timestamp, latencyMs: Date.now() - started };
  }

  async account(address: string, solid = false): Promise<AccountInfo> {
    const json = await this.post(solid ? "/walletsolidity/getaccount" : "/wallet/getaccount", { address: toHexAddress(address) });
    const frozen = { BANDWIDTH: 0n, ENERGY: 0n };
    for (const entry of (json.frozenV2 as { type?: string; amount?: number }[] | undefined) ?? []) {
      const type = entry.type ?? "BANDWIDTH";
      if ((type === "BANDWIDTH" || type === "ENERGY") && entry.amount) frozen[type] += BigInt(entry.amount);
    }
    const unfrozen = (
      (json.unfrozenV2 as { type?: string; unfreeze_amount?: number; unfreeze_expire_time?: number }[] | undefined) ?? []
    ).map((u) => ({
      resource: (u.type === "ENERGY" ? "ENERGY" : "BANDWIDTH") as "ENERGY" | "BANDWIDTH",
      amount: BigInt(u.unfreeze_amount ?? 0),
      expireTime: u.unfreeze_expire_time ?? 0,
    }));
    return { exists: Object.keys(json).length > 0, balance: BigInt(Number(json.balance ?? 0)), frozen, unfrozen };
  }

  async #constant(contract: string, selector: string, parameter: string, owner?: string): Promise<bigint> {
    const json = await this.post("/wallet/triggerconstantcontract", {
      owner_address: toHexAddress(owner ?? "410000000000000000000000000000000000000000"),
      contract_address: toHexAddress(contract),
      function_selector: selector,
      parameter,
    });
    const result = json.result as { result?: boolean; code?: string; message?: string } | undefined;
    if (!result?.result) throw new TronRejectedError(result?.code ?? "CONTRACT_ERROR", decodeMessage(result?.message));
    return decodeUint((json.constant_result as string[] | undefined)?.[0]);
  }

  trc20Balance(contract: string, owner: string): Promise<bigint> {
    return this.#constant(contract, "balanceOf(address)", balanceOfParameter(owner), owner);
  }

  trc20Allowance(contract: string, owner: string, spender: string): Promise<bigint> {
    return this.#constant(contract, "allowance(address,address)", allowanceParameter(owner, spender), owner);
  }

  trc20Decimals(contract: string): Promise<bigint> {
    return this.#constant(contract, "decimals()", "");
  }

  /** Broadcasts a signed transaction. Throws TronUnavailableError when the outcome is unknown. */
  async broadcast(tx: TronTransaction): Promise<BroadcastOutcome> {
    const json = await this.post("/wallet/broadcasttransaction", tx, tx.txID);
    if (json.result === true) return { accepted: true, duplicate: false };
    const code = typeof json.code === "string" ? json.code : "UNKNOWN";
    if (code === "DUP_TRANSACTION_ERROR") return { accepted: true, duplicate: true };
    return { accepted: false, code, message: decodeMessage(json.message) };
  }

  /** `null` while the transaction is in no block (or, with `solid`, in no solidified block). */
  async transactionInfo(txid: string, solid = false): Promise<TransactionInfo | null> {
    const json = await this.post(solid ? "/walletsolidity/gettransactioninfobyid" : "/wallet/gettransactioninfobyid", { value: txid });
    if (typeof json.id !== "string" || typeof json.blockNumber !== "number") return null;
    const receipt = (json.receipt as { result?: string } | undefined)?.result;
    const failed = json.result === "FAILED" || (receipt !== undefined && receipt !== "SUCCESS");
    return {
      id: json.id,
      blockNumber: json.blockNumber,
      blockTimeStamp: Number(json.blockTimeStamp ?? 0),
      fee: BigInt(Number(json.fee ?? 0)),
      result: receipt ?? (failed ? "FAILED" : "SUCCESS"),
      success: !failed,
    };
  }
}

export { CircuitOpenError };
