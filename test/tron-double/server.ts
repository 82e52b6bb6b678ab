// A TRON full-node HTTP API double (java-tron / TronGrid request and response shapes) for
// tests only, plus a small control API under /__double/ to fund accounts, make blocks and
// inject faults. Listens on 127.0.0.1 only.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { utils } from "tronweb";
import { toBase58Address, toHexAddress } from "../../shared/tron/address.ts";
import { BroadcastError, TronChain, type SignedTx } from "./chain.ts";

export type FaultKind = "timeout" | "error5xx" | "lost-response";
export interface Fault {
  path: string;
  kind: FaultKind;
  times: number;
  /** Only requests whose body contains this text (e.g. an owner's hex address). */
  match?: string;
}

export interface TronDouble {
  url: string;
  chain: TronChain;
  usdt: string;
  faults: Fault[];
  /** Requests served per path (after faults), for assertions. */
  calls: Map<string, number>;
  close(): Promise<void>;
}

const SELECTOR_BY_SIGNATURE: Record<string, string> = {
  "transfer(address,uint256)": "a9059cbb",
  "approve(address,uint256)": "095ea7b3",
  "transferFrom(address,address,uint256)": "23b872dd",
  "balanceOf(address)": "70a08231",
  "allowance(address,address)": "dd62ed3e",
  "decimals()": "313ce567",
};

const hexMessage = (text: string) => Buffer.from(text).toString("hex");

export async function startTronDouble(options: { usdt?: string; port?: number; autoBlockMs?: number } = {}): Promise<TronDouble> {
  const usdt = options.usdt ?? "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
  const chain = new TronChain([usdt]);
  chain.produceBlocks(1);
  const faults: Fault[] = [];
  const calls = new Map<string, number>();
  const sockets = new Set<Socket>();

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    const fault = takeFault(faults, path, body);
    if (fault === "timeout") return; // never answer; the socket is closed on shutdown
    if (fault === "error5xx") return send(res, 503, { Error: "Service Unavailable" });
    let status = 200;
    let payload: unknown;
    try {
      payload = path.startsWith("/__double/")
        ? control(chain, faults, calls, path, body)
        : path.startsWith("/v1/")
          ? tronGrid(chain, req.method ?? "GET", path, url.searchParams)
          : api(chain, path, body);
      if (payload === undefined) {
        status = 404;
        payload = { Error: `no servlet for ${path}` };
      }
    } catch (error) {
      payload = { Error: error instanceof Error ? `class java.lang.IllegalArgumentException : ${error.message}` : String(error) };
    }
    calls.set(path, (calls.get(path) ?? 0) + 1);
    if (fault === "lost-response") {
      req.socket.destroy(); // processed, but the caller never learns the outcome
      return;
    }
    send(res, status, payload);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const timer = options.autoBlockMs ? setInterval(() => chain.produceBlocks(1), options.autoBlockMs) : undefined;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    chain,
    usdt,
    faults,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        if (timer) clearInterval(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function takeFault(faults: Fault[], path: string, body: string): FaultKind | undefined {
  const index = faults.findIndex((f) => f.path === path && f.times > 0 && (!f.match || body.toLowerCase().includes(f.match.toLowerCase())));
  if (index < 0) return undefined;
  const fault = faults[index]!;
  fault.times -= 1;
  if (fault.times === 0) faults.splice(index, 1);
  return fault.kind;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function parseJson(body: string): Record<string, unknown> {
  if (!body.trim()) return {};
  const value = JSON.parse(body) as unknown;
  if (typeof value !== "object" || value === null) throw new Error("body must be a JSON object");
  return value as Record<string, unknown>;
}

/** Addresses arrive as 41-hex, or base58 when `visible` is true; java-tron rejects anything else. */
function address(value: unknown, field: string): string {
  if (typeof value !== "string") throw new Error(`${field} is missing`);
  try {
    return toHexAddress(value);
  } catch {
    throw new Error(`Invalid address: ${field}`);
  }
}

function bigintField(value: unknown, field: string): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^\d+$/.test(value)) return BigInt(value);
  throw new Error(`${field} must be an integer`);
}

/** Encodes an unsigned transaction as java-tron returns it (tronweb's protobuf, independent of ours). */
function unsignedTx(chain: TronChain, type: string, value: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const head = chain.head;
  const raw_data = {
    contract: [{ parameter: { value, type_url: `type.googleapis.com/protocol.${type}` }, type }],
    ref_block_bytes: head.number.toString(16).padStart(8, "0").slice(-4),
    ref_block_hash: head.blockID.slice(16, 32),
    expiration: head.timestamp + 60_000,
    ...extra,
    timestamp: head.timestamp,
  };
  const pb = utils.transaction.txJsonToPb({ raw_data });
  return {
    visible: false,
    txID: utils.transaction.txPbToTxID(pb).replace(/^0x/, ""),
    raw_data,
    raw_data_hex: utils.transaction.txPbToRawDataHex(pb).toLowerCase(),
  };
}

function callData(body: Record<string, unknown>): string {
  if (typeof body.data === "string") return body.data.toLowerCase();
  const signature = String(body.function_selector ?? "").replace(/\s/g, "");
  const selector = SELECTOR_BY_SIGNATURE[signature];
  if (!selector) throw new Error(`unknown function_selector ${signature}`);
  return selector + String(body.parameter ?? "").toLowerCase();
}

function api(chain: TronChain, path: string, text: string): unknown {
  const body = parseJson(text);
  const solid = path.startsWith("/walletsolidity/");
  const name = path.replace(/^\/wallet(solidity)?\//, "");
  switch (name) {
    case "getnowblock":
      return chain.blockJson(solid ? chain.solidHead : chain.head);
    case "getblock":
    case "getblockbynum": {
      const num = body.id_or_num ?? body.num;
      if (num === undefined) return chain.blockJson(solid ? chain.solidHead : chain.head);
      const block = chain.blocks[Number(num)];
      return block && (!solid || block.number <= chain.solidHead.number) ? chain.blockJson(block) : {};
    }
    case "getaccount":
      return chain.accountJson(address(body.address, "address"), solid);
    case "gettransactionbyid":
      return chain.txJson(String(body.value ?? ""), solid);
    case "gettransactioninfobyid":
      return chain.txInfoJson(String(body.value ?? ""), solid);
    case "triggerconstantcontract": {
      const contract = address(body.contract_address, "contract_address");
      address(body.owner_address ?? "410000000000000000000000000000000000000000", "owner_address");
      const out = chain.call(contract, callData(body), solid ? chain.solidState : chain.state);
      if (!out.ok) return { result: { code: "CONTRACT_EXE_ERROR", message: hexMessage(out.message) } };
      return { result: { result: true }, energy_used: 935, constant_result: [out.result], transaction: {} };
    }
    case "triggersmartcontract": {
      if (solid) return undefined;
      const owner = address(body.owner_address, "owner_address");
      const contract = address(body.contract_address, "contract_address");
      if (!chain.state.tokens.has(contract)) {
        return { result: { code: "CONTRACT_VALIDATE_ERROR", message: hexMessage("No contract or not a smart contract") } };
      }
      const value: Record<string, unknown> = { data: callData(body), owner_address: owner, contract_address: contract };
      const callValue = body.call_value === undefined ? 0n : bigintField(body.call_value, "call_value");
      if (callValue > 0n) value.call_value = Number(callValue);
      const feeLimit = bigintField(body.fee_limit ?? 0, "fee_limit");
      return { result: { result: true }, transaction: unsignedTx(chain, "TriggerSmartContract", value, { fee_limit: Number(feeLimit) }) };
    }
    case "createtransaction": {
      if (solid) return undefined;
      const owner = address(body.owner_address, "owner_address");
      const to = address(body.to_address, "to_address");
      const amount = bigintField(body.amount, "amount");
      const account = chain.state.accounts.get(owner);
      if (!account)
        return { Error: `class org.tron.core.exception.ContractValidateException : Validate TransferContract error, no OwnerAccount.` };
      if (account.balance < amount)
        return {
          Error: "class org.tron.core.exception.ContractValidateException : Validate TransferContract error, balance is not sufficient.",
        };
      return unsignedTx(chain, "TransferContract", { amount: Number(amount), owner_address: owner, to_address: to });
    }
    case "freezebalancev2":
    case "unfreezebalancev2": {
      if (solid) return undefined;
      const owner = address(body.owner_address, "owner_address");
      const freeze = name === "freezebalancev2";
      const amount = bigintField(freeze ? body.frozen_balance : body.unfreeze_balance, freeze ? "frozen_balance" : "unfreeze_balance");
      const resource = body.resource === undefined ? "BANDWIDTH" : String(body.resource);
      if (resource !== "BANDWIDTH" && resource !== "ENERGY") return { Error: "ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]" };
      const value: Record<string, unknown> = { owner_address: owner, [freeze ? "frozen_balance" : "unfreeze_balance"]: Number(amount) };
      if (resource !== "BANDWIDTH") value.resource = resource;
      return unsignedTx(chain, freeze ? "FreezeBalanceV2Contract" : "UnfreezeBalanceV2Contract", value);
    }
    case "withdrawexpireunfreeze":
      if (solid) return undefined;
      return unsignedTx(chain, "WithdrawExpireUnfreezeContract", { owner_address: address(body.owner_address, "owner_address") });
    case "broadcasttransaction": {
      if (solid) return undefined;
      const tx = body as unknown as SignedTx;
      try {
        chain.broadcast(tx);
        return { result: true, code: "SUCCESS", txid: tx.txID };
      } catch (error) {
        if (!(error instanceof BroadcastError)) throw error;
        // java-tron's BroadcastServlet prints GrpcAPI.Return with the txid: result false, the
        // response_code name (e.g. DUP_TRANSACTION_ERROR for a transaction it already has), hex message.
        return { result: false, code: error.code, txid: tx.txID, message: hexMessage(error.message) };
      }
    }
    default:
      return undefined;
  }
}

/**
 * TronGrid's v1 REST API, the part Lucid reads: GET /v1/accounts/{address}/transactions/trc20
 * (only_confirmed, only_from, only_to, contract_address, min_timestamp, max_timestamp,
 * order_by=block_timestamp,asc|desc, limit ≤ 200, fingerprint). Confirmed = in a solidified block.
 */
function tronGrid(chain: TronChain, method: string, path: string, query: URLSearchParams): unknown {
  const match = /^\/v1\/accounts\/([^/]+)\/transactions\/trc20$/.exec(path);
  if (!match || method !== "GET") return undefined;
  const owner = address(decodeURIComponent(match[1]!), "address");
  const flag = (name: string) => query.get(name) === "true";
  const contract = query.get("contract_address") ? address(query.get("contract_address"), "contract_address") : undefined;
  const min = Number(query.get("min_timestamp") ?? 0);
  const max = Number(query.get("max_timestamp") ?? Number.MAX_SAFE_INTEGER);
  const limit = Math.min(200, Math.max(1, Number(query.get("limit") ?? 20)));
  const desc = (query.get("order_by") ?? "block_timestamp,desc") !== "block_timestamp,asc";
  const solid = chain.solidHead.number;
  let list = chain.transfers
    .map((t) => ({ t, timestamp: chain.blocks[t.blockNumber]!.timestamp }))
    .filter(
      ({ t, timestamp }) =>
        (t.from === owner || t.to === owner) &&
        (!flag("only_from") || t.from === owner) &&
        (!flag("only_to") || t.to === owner) &&
        (!contract || t.token === contract) &&
        (!flag("only_confirmed") || t.blockNumber <= solid) &&
        (!flag("only_unconfirmed") || t.blockNumber > solid) &&
        timestamp >= min &&
        timestamp <= max,
    );
  if (desc) list = list.reverse();
  const start = Number(query.get("fingerprint") ?? 0);
  const page = list.slice(start, start + limit);
  const more = start + limit < list.length;
  const token = chain.state.tokens.get(contract ?? chain.state.tokens.keys().next().value!);
  return {
    data: page.map(({ t, timestamp }) => ({
      transaction_id: t.txID,
      token_info: { symbol: "USDT", address: toBase58Address(t.token), decimals: token?.decimals ?? 6, name: "Tether USD" },
      block_timestamp: timestamp,
      from: toBase58Address(t.from),
      to: toBase58Address(t.to),
      type: "Transfer",
      value: String(t.amount),
    })),
    success: true,
    meta: { at: Date.now(), page_size: page.length, ...(more ? { fingerprint: String(start + limit) } : {}) },
  };
}

/** The double's own control API (not part of TRON's). */
function control(chain: TronChain, faults: Fault[], calls: Map<string, number>, path: string, text: string): unknown {
  const body = parseJson(text);
  switch (path) {
    case "/__double/fund": {
      const target = address(body.address, "address");
      const sun = body.trx === undefined ? 0n : bigintField(body.trx, "trx");
      const token =
        body.usdt === undefined ? undefined : { contract: chain.state.tokens.keys().next().value!, units: bigintField(body.usdt, "usdt") };
      chain.fund(target, sun, token);
      return { ok: true };
    }
    case "/__double/burn": {
      // Takes tokens away behind the ledger's back (as a transfer signed elsewhere would).
      const target = address(body.address, "address");
      const token = chain.state.tokens.values().next().value!;
      const units = bigintField(body.usdt, "usdt");
      const held = token.balances.get(target) ?? 0n;
      token.balances.set(target, held > units ? held - units : 0n);
      chain.stateChanged();
      return { ok: true };
    }
    case "/__double/produce":
      return { number: chain.produceBlocks(Number(body.blocks ?? 1)).number };
    case "/__double/advance-time":
      chain.advanceTime(Number(body.ms ?? 0));
      return { ok: true };
    case "/__double/fault": {
      const kind = String(body.kind) as Fault["kind"];
      if (!["timeout", "error5xx", "lost-response"].includes(kind)) throw new Error("unknown fault kind");
      faults.push({ path: String(body.path), kind, times: Number(body.times ?? 1), ...(body.match ? { match: String(body.match) } : {}) });
      return { ok: true };
    }
    case "/__double/clear-faults": {
      // Only the caller's faults (by match) when given: test files share one double.
      const keep = faults.filter((f) => body.match !== undefined && f.match !== String(body.match));
      faults.splice(0, faults.length, ...keep);
      return { ok: true };
    }
    case "/__double/inspect": {
      const target = address(body.address, "address");
      const token = chain.state.tokens.values().next().value!;
      const account = chain.state.accounts.get(target);
      return {
        address: toBase58Address(target),
        trx: String(account?.balance ?? 0n),
        usdt: String(token.balances.get(target) ?? 0n),
        frozenEnergy: String(account?.frozen.ENERGY ?? 0n),
        frozenBandwidth: String(account?.frozen.BANDWIDTH ?? 0n),
        transfersIn: chain.transfers
          .filter((t) => t.to === target)
          .map((t) => ({ txID: t.txID, from: toBase58Address(t.from), amount: String(t.amount) })),
        transfersOut: chain.transfers
          .filter((t) => t.from === target)
          .map((t) => ({ txID: t.txID, to: toBase58Address(t.to), amount: String(t.amount) })),
        pending: chain.pending.filter((p) => JSON.stringify(p.raw_data).includes(target)).length,
      };
    }
    case "/__double/broadcasts":
      return { attempts: Object.fromEntries(chain.broadcastAttempts), calls: Object.fromEntries(calls) };
    default:
      return undefined;
  }
}
