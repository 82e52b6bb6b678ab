import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TronWeb, utils } from "tronweb";
import { addressFromPrivateKey, createAccount, toHexAddress } from "../../shared/tron/address.ts";
import { buildTransaction, signTransaction, type BlockRef } from "../../shared/tron/transaction.ts";
import { transferData } from "../../shared/tron/trc20.ts";
import { payoutIdFromMemo, payoutMemo } from "../../shared/tron/memo.ts";
import { startTronDouble, type TronDouble } from "../tron-double/server.ts";

const hexKey = (key: Uint8Array) => Buffer.from(key).toString("hex");

let double: TronDouble;
beforeAll(async () => {
  double = await startTronDouble();
});
afterAll(() => double.close());

async function post(path: string, body: unknown) {
  const res = await fetch(`${double.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  return res.json() as Promise<Record<string, any>>;
}

async function headRef(): Promise<BlockRef> {
  const block = await post("/wallet/getnowblock", {});
  return { number: block.block_header.raw_data.number, blockID: block.blockID, timestamp: block.block_header.raw_data.timestamp };
}

function funded(trx = 100_000_000n, usdt = 0n) {
  const account = createAccount();
  double.chain.fund(account.address, trx, usdt ? { contract: double.usdt, units: usdt } : undefined);
  return account;
}

describe("TRON HTTP API double with tronweb as the client", () => {
  it("answers getaccount like java-tron: {} for unknown accounts, balance in sun otherwise", async () => {
    const tw = new TronWeb({ fullHost: double.url });
    const stranger = createAccount();
    expect(await post("/wallet/getaccount", { address: toHexAddress(stranger.address) })).toEqual({});
    const rich = funded(42_000_000n);
    expect(await tw.trx.getUnconfirmedBalance(rich.address)).toBe(42_000_000);
    // tronweb's getBalance reads /walletsolidity: nothing until 19 blocks have passed
    expect(await tw.trx.getBalance(rich.address)).toBe(0);
    // funding lands in the next block; that block is solid 19 blocks later
    double.chain.produceBlocks(19);
    expect(await tw.trx.getBalance(rich.address)).toBe(0);
    double.chain.produceBlocks(1);
    expect(await tw.trx.getBalance(rich.address)).toBe(42_000_000);
  });

  it("runs tronweb's sendTrx → sign → broadcast → info round trip, {} until the block and the solidity node", async () => {
    const tw = new TronWeb({ fullHost: double.url });
    const alice = funded(10_000_000n);
    const bob = createAccount();
    const unsigned = await tw.transactionBuilder.sendTrx(bob.address, 1_500_000, alice.address);
    const signed = await tw.trx.sign(unsigned, hexKey(alice.privateKey));
    const sent = await tw.trx.sendRawTransaction(signed);
    expect(sent.result).toBe(true);
    expect(await post("/wallet/gettransactioninfobyid", { value: signed.txID })).toEqual({});
    double.chain.produceBlocks(1);
    const info = await post("/wallet/gettransactioninfobyid", { value: signed.txID });
    expect(info.id).toBe(signed.txID);
    expect(info.blockNumber).toBe(double.chain.head.number);
    expect(await post("/walletsolidity/gettransactioninfobyid", { value: signed.txID })).toEqual({});
    double.chain.produceBlocks(18);
    expect(await post("/walletsolidity/gettransactioninfobyid", { value: signed.txID })).toEqual({});
    double.chain.produceBlocks(1);
    expect((await post("/walletsolidity/gettransactioninfobyid", { value: signed.txID })).id).toBe(signed.txID);
    expect(await tw.trx.getUnconfirmedBalance(bob.address)).toBe(1_500_000);
  });

  it("lets tronweb build a TRC20 transfer through triggersmartcontract (tronweb re-checks the returned bytes)", async () => {
    const tw = new TronWeb({ fullHost: double.url });
    const alice = funded(100_000_000n, 50_000_000n);
    const bob = createAccount();
    const built = await tw.transactionBuilder.triggerSmartContract(
      double.usdt,
      "transfer(address,uint256)",
      { feeLimit: 30_000_000 },
      [
        { type: "address", value: bob.address },
        { type: "uint256", value: 7_000_000 },
      ],
      alice.address,
    );
    expect(built.result.result).toBe(true);
    const signed = await tw.trx.sign(built.transaction, hexKey(alice.privateKey));
    expect((await tw.trx.sendRawTransaction(signed)).result).toBe(true);
    double.chain.produceBlocks(1);
    const info = await post("/wallet/gettransactioninfobyid", { value: signed.txID });
    expect(info.receipt.result).toBe("SUCCESS");
    const balance = await tw.transactionBuilder.triggerConstantContract(
      double.usdt,
      "balanceOf(address)",
      {},
      [{ type: "address", value: bob.address }],
      alice.address,
    );
    expect(BigInt(`0x${balance.constant_result[0]}`)).toBe(7_000_000n);
  });

  it("accepts transactions built and signed by shared/tron (noble) and refuses forged ones", async () => {
    const alice = funded(100_000_000n, 5_000_000n);
    const bob = createAccount();
    const tx = buildTransaction(
      { type: "TriggerSmartContract", owner: alice.address, contract: double.usdt, data: transferData(bob.address, 2_000_000n) },
      await headRef(),
      { feeLimit: 30_000_000n },
    );
    // signed by someone else: the signature does not recover the owner
    const forged = signTransaction(tx, createAccount().privateKey);
    expect(await post("/wallet/broadcasttransaction", forged)).toMatchObject({ code: "SIGERROR" });
    // txID that is not sha256(raw_data)
    const wrongId = { ...signTransaction(tx, alice.privateKey), txID: "00".repeat(32) };
    expect(await post("/wallet/broadcasttransaction", wrongId)).toMatchObject({ code: "SIGERROR" });
    // raw_data changed after signing
    const tampered = structuredClone(signTransaction(tx, alice.privateKey));
    tampered.raw_data.expiration += 1;
    expect(await post("/wallet/broadcasttransaction", tampered)).toMatchObject({ result: false, code: "OTHER_ERROR" });

    const signed = signTransaction(tx, alice.privateKey);
    expect(await post("/wallet/broadcasttransaction", signed)).toEqual({ result: true, code: "SUCCESS", txid: tx.txID });
    // java-tron's answer for a transaction it already has (pending, then in a block).
    const dup = { result: false, code: "DUP_TRANSACTION_ERROR", txid: tx.txID, message: Buffer.from("Dup transaction.").toString("hex") };
    expect(await post("/wallet/broadcasttransaction", signed)).toEqual(dup);
    double.chain.produceBlocks(1);
    expect(await post("/wallet/broadcasttransaction", signed)).toEqual(dup);
    const info = await post("/wallet/gettransactioninfobyid", { value: tx.txID });
    expect(info.receipt.result).toBe("SUCCESS");
    expect(double.chain.transfers.filter((t) => t.txID === tx.txID)).toHaveLength(1);
  });

  it("carries a payout's id in raw_data.data as tronweb does; equal payouts build different transactions", async () => {
    const alice = funded(100_000_000n, 10_000_000n);
    const bob = createAccount();
    const ref = await headRef();
    const spec = {
      type: "TriggerSmartContract" as const,
      owner: alice.address,
      contract: double.usdt,
      data: transferData(bob.address, 1_000_000n),
    };
    const payoutId = crypto.randomUUID();
    const plain = buildTransaction(spec, ref, { feeLimit: 30_000_000n });
    const ours = buildTransaction(spec, ref, { feeLimit: 30_000_000n, memo: payoutMemo(payoutId) });
    // tronweb's own protobuf encoding of the same raw_data with the memo as TRON carries it (hex of the UTF-8 text).
    const memoHex = Buffer.from(`lucid:payout:${payoutId}`, "utf8").toString("hex");
    const pb = utils.transaction.txJsonToPb({ raw_data: { ...plain.raw_data, data: memoHex } });
    expect(ours.raw_data.data).toBe(memoHex);
    expect(ours.raw_data_hex).toBe(utils.transaction.txPbToRawDataHex(pb).toLowerCase());
    expect(ours.txID).toBe(utils.transaction.txPbToTxID(pb).replace(/^0x/, ""));
    expect(payoutIdFromMemo(ours.raw_data.data)).toBe(payoutId);
    expect(payoutIdFromMemo(plain.raw_data.data)).toBeNull();
    // Same owner, recipient, amount and reference block: only the memo tells two payouts apart.
    const twin = buildTransaction(spec, ref, { feeLimit: 30_000_000n, memo: payoutMemo(crypto.randomUUID()) });
    expect(twin.txID).not.toBe(ours.txID);
    expect((await post("/wallet/broadcasttransaction", signTransaction(ours, alice.privateKey))).result).toBe(true);
    expect((await post("/wallet/broadcasttransaction", signTransaction(twin, alice.privateKey))).result).toBe(true);
    double.chain.produceBlocks(1);
    expect(double.chain.transfers.filter((t) => t.txID === ours.txID || t.txID === twin.txID)).toHaveLength(2);
  });

  it("lists an account's TRC20 transfers as TronGrid's /v1/accounts/{address}/transactions/trc20 does", async () => {
    const alice = funded(100_000_000n, 10_000_000n);
    const bob = createAccount();
    const sent = [];
    for (const amount of [1_000_000n, 2_000_000n, 3_000_000n]) {
      const tx = signTransaction(
        buildTransaction(
          { type: "TriggerSmartContract", owner: alice.address, contract: double.usdt, data: transferData(bob.address, amount) },
          await headRef(),
          { feeLimit: 30_000_000n },
        ),
        alice.privateKey,
      );
      expect((await post("/wallet/broadcasttransaction", tx)).result).toBe(true);
      double.chain.produceBlocks(1);
      sent.push(tx.txID);
    }
    const get = async (query: string) =>
      (await fetch(`${double.url}/v1/accounts/${alice.address}/transactions/trc20?${query}`)).json() as Promise<Record<string, any>>;
    // Not solidified yet: nothing confirmed.
    expect((await get("only_confirmed=true&only_from=true")).data).toEqual([]);
    double.chain.produceBlocks(19);
    const page1 = await get(`only_confirmed=true&only_from=true&contract_address=${double.usdt}&order_by=block_timestamp,asc&limit=2`);
    expect(page1.success).toBe(true);
    expect(page1.data.map((d: { transaction_id: string }) => d.transaction_id)).toEqual(sent.slice(0, 2));
    expect(page1.data[0]).toMatchObject({
      from: alice.address,
      to: bob.address,
      type: "Transfer",
      value: "1000000",
      token_info: { address: double.usdt, decimals: 6 },
    });
    const page2 = await get(
      `only_confirmed=true&only_from=true&contract_address=${double.usdt}&order_by=block_timestamp,asc&limit=2&fingerprint=${page1.meta.fingerprint}`,
    );
    expect(page2.data.map((d: { transaction_id: string }) => d.transaction_id)).toEqual(sent.slice(2));
    expect(page2.meta.fingerprint).toBeUndefined();
    expect((await get("only_to=true")).data).toEqual([]);
  });

  it("reverts a TRC20 transfer above the token balance, rejects expired and unknown-reference transactions", async () => {
    const alice = funded(100_000_000n, 1_000_000n);
    const bob = createAccount();
    const ref = await headRef();
    const tooMuch = signTransaction(
      buildTransaction(
        { type: "TriggerSmartContract", owner: alice.address, contract: double.usdt, data: transferData(bob.address, 2_000_000n) },
        ref,
        { feeLimit: 30_000_000n },
      ),
      alice.privateKey,
    );
    expect((await post("/wallet/broadcasttransaction", tooMuch)).result).toBe(true);
    double.chain.produceBlocks(1);
    const info = await post("/wallet/gettransactioninfobyid", { value: tooMuch.txID });
    expect(info.result).toBe("FAILED");
    expect(info.receipt.result).toBe("REVERT");

    const stale = signTransaction(
      buildTransaction({ type: "TransferContract", owner: alice.address, to: bob.address, amount: 1n }, ref),
      alice.privateKey,
    );
    double.chain.produceBlocks(21); // 63 s later: past the 60 s expiration
    expect(await post("/wallet/broadcasttransaction", stale)).toMatchObject({ code: "TRANSACTION_EXPIRATION_ERROR" });
    const unknownRef = signTransaction(
      buildTransaction(
        { type: "TransferContract", owner: alice.address, to: bob.address, amount: 1n },
        { ...ref, blockID: "ff".repeat(32), timestamp: double.chain.head.timestamp },
      ),
      alice.privateKey,
    );
    expect(await post("/wallet/broadcasttransaction", unknownRef)).toMatchObject({ code: "TAPOS_ERROR" });
  });

  it("stakes with Stake 2.0 through tronweb: freeze, unfreeze, withdraw only after 14 days", async () => {
    const tw = new TronWeb({ fullHost: double.url });
    const alice = funded(5_000_000_000n);
    const freeze = await tw.transactionBuilder.freezeBalanceV2(1_000_000_000, "ENERGY", alice.address);
    await tw.trx.sendRawTransaction(await tw.trx.sign(freeze, hexKey(alice.privateKey)));
    double.chain.produceBlocks(1);
    const account = await post("/wallet/getaccount", { address: toHexAddress(alice.address) });
    expect(account.frozenV2).toContainEqual({ type: "ENERGY", amount: 1_000_000_000 });
    const unfreeze = await tw.transactionBuilder.unfreezeBalanceV2(1_000_000_000, "ENERGY", alice.address);
    await tw.trx.sendRawTransaction(await tw.trx.sign(unfreeze, hexKey(alice.privateKey)));
    double.chain.produceBlocks(1);
    const early = await post("/wallet/withdrawexpireunfreeze", { owner_address: toHexAddress(alice.address) });
    const refused = await post("/wallet/broadcasttransaction", signTransaction(early as any, alice.privateKey));
    expect(refused.code).toBe("CONTRACT_VALIDATE_ERROR");
    double.chain.advanceTime(14 * 24 * 3600 * 1000);
    double.chain.produceBlocks(1);
    const withdraw = await post("/wallet/withdrawexpireunfreeze", { owner_address: toHexAddress(alice.address) });
    expect((await post("/wallet/broadcasttransaction", signTransaction(withdraw as any, alice.privateKey))).result).toBe(true);
    double.chain.produceBlocks(1);
    expect(await tw.trx.getUnconfirmedBalance(alice.address)).toBe(5_000_000_000);
  });

  it("injects faults: 5xx, a timeout, and a broadcast that is applied but whose response is lost", async () => {
    const alice = funded(10_000_000n);
    double.faults.push({ path: "/wallet/getnowblock", kind: "error5xx", times: 1 });
    expect((await fetch(`${double.url}/wallet/getnowblock`, { method: "POST", body: "{}" })).status).toBe(503);
    double.faults.push({ path: "/wallet/getnowblock", kind: "timeout", times: 1 });
    await expect(
      fetch(`${double.url}/wallet/getnowblock`, { method: "POST", body: "{}", signal: AbortSignal.timeout(200) }),
    ).rejects.toThrow();

    const tx = signTransaction(
      buildTransaction(
        { type: "TransferContract", owner: alice.address, to: createAccount().address, amount: 1_000_000n },
        await headRef(),
      ),
      alice.privateKey,
    );
    double.faults.push({ path: "/wallet/broadcasttransaction", kind: "lost-response", times: 1, match: toHexAddress(alice.address) });
    await expect(post("/wallet/broadcasttransaction", tx)).rejects.toThrow();
    double.chain.produceBlocks(1);
    expect((await post("/wallet/gettransactioninfobyid", { value: tx.txID })).id).toBe(tx.txID);
  });

  it("matches the reference vectors for key 0x…01", () => {
    const key = new Uint8Array(32);
    key[31] = 1;
    expect(addressFromPrivateKey(key)).toBe("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
    expect(toHexAddress("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")).toBe("41a614f803b6fd780986a42c78ec9c7f77e6ded13c");
  });
});
