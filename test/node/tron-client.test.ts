import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount } from "../../shared/tron/address.ts";
import { CircuitBreaker, CircuitOpenError } from "../../shared/tron/breaker.ts";
import { TronClient, TronRejectedError, TronUnavailableError } from "../../shared/tron/client.ts";
import { buildTransaction, signTransaction } from "../../shared/tron/transaction.ts";
import { startTronDouble, type TronDouble } from "../tron-double/server.ts";

let double: TronDouble;
beforeAll(async () => {
  double = await startTronDouble();
});
afterAll(() => double.close());

const served = (path: string) => double.calls.get(path) ?? 0;

describe("TronClient against the TRON double", () => {
  it("sends the API key header and an idempotency key (the txid) on broadcasts", async () => {
    const seen: Headers[] = [];
    const client = new TronClient({
      rpcUrl: double.url,
      apiKey: "k-123",
      timeoutMs: 2000,
      retries: 0,
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers));
        return fetch(input, init);
      },
    });
    const alice = createAccount();
    double.chain.fund(alice.address, 5_000_000n);
    const tx = signTransaction(
      buildTransaction(
        { type: "TransferContract", owner: alice.address, to: createAccount().address, amount: 1_000_000n },
        await client.nowBlock(),
      ),
      alice.privateKey,
    );
    expect(await client.broadcast(tx)).toEqual({ accepted: true, duplicate: false });
    expect(await client.broadcast(tx)).toEqual({ accepted: true, duplicate: true });
    expect(seen.every((h) => h.get("TRON-PRO-API-KEY") === "k-123")).toBe(true);
    expect(seen.at(-1)!.get("Idempotency-Key")).toBe(tx.txID);
    double.chain.produceBlocks(1);
    // a plain TRX transfer's receipt has no `result`: still a success
    expect(await client.transactionInfo(tx.txID)).toMatchObject({ id: tx.txID, success: true, result: "SUCCESS" });
    expect(await client.transactionInfo(tx.txID, true)).toBeNull();
  });

  it("retries a 5xx and gives up with TronUnavailableError when every attempt fails", async () => {
    const client = new TronClient({ rpcUrl: double.url, timeoutMs: 2000, retries: 1, backoffMs: 1 });
    double.faults.push({ path: "/wallet/getnowblock", kind: "error5xx", times: 1 });
    const before = served("/wallet/getnowblock");
    expect((await client.nowBlock()).number).toBe(double.chain.head.number);
    expect(served("/wallet/getnowblock")).toBe(before + 1);
    double.faults.push({ path: "/wallet/getnowblock", kind: "error5xx", times: 2 });
    await expect(client.nowBlock()).rejects.toBeInstanceOf(TronUnavailableError);
  });

  it("times out a call that never answers", async () => {
    const client = new TronClient({ rpcUrl: double.url, timeoutMs: 150, retries: 0 });
    double.faults.push({ path: "/wallet/getnowblock", kind: "timeout", times: 1 });
    await expect(client.nowBlock()).rejects.toThrow(/no answer within 150 ms/);
  });

  it("opens the circuit after repeated failures, refuses without calling, then closes after a successful trial", async () => {
    let now = 0;
    const breaker = new CircuitBreaker(2, 1000, () => now);
    const client = new TronClient({ rpcUrl: double.url, timeoutMs: 2000, retries: 0, breaker });
    double.faults.push({ path: "/wallet/getnowblock", kind: "error5xx", times: 2 });
    await expect(client.nowBlock()).rejects.toBeInstanceOf(TronUnavailableError);
    await expect(client.nowBlock()).rejects.toBeInstanceOf(TronUnavailableError);
    expect(breaker.state).toBe("open");
    const before = served("/wallet/getnowblock");
    await expect(client.nowBlock()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(served("/wallet/getnowblock")).toBe(before);
    now += 1000;
    expect(breaker.state).toBe("half-open");
    await client.nowBlock();
    expect(breaker.state).toBe("closed");
  });

  it("treats an answered rejection as the node being up (the circuit stays closed)", async () => {
    const breaker = new CircuitBreaker(1, 60_000);
    const client = new TronClient({ rpcUrl: double.url, timeoutMs: 2000, retries: 0, breaker });
    await expect(client.post("/wallet/getaccount", { address: "not-an-address" })).rejects.toBeInstanceOf(TronRejectedError);
    expect(breaker.state).toBe("closed");
  });

  it("reads accounts, TRC20 balance, allowance and decimals", async () => {
    const client = new TronClient({ rpcUrl: double.url, timeoutMs: 2000, retries: 0 });
    const holder = createAccount();
    expect(await client.account(holder.address)).toMatchObject({ exists: false, balance: 0n });
    double.chain.fund(holder.address, 7n, { contract: double.usdt, units: 123_456n });
    expect(await client.account(holder.address)).toMatchObject({ exists: true, balance: 7n });
    expect(await client.trc20Balance(double.usdt, holder.address)).toBe(123_456n);
    expect(await client.trc20Allowance(double.usdt, holder.address, createAccount().address)).toBe(0n);
    expect(await client.trc20Decimals(double.usdt)).toBe(6n);
  });
});
