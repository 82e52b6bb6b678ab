// Checks the brief's question "does tronweb run in workerd?": it does (this file runs inside
// workerd), and it agrees with shared/tron. The Worker itself signs with @noble: smaller and faster.
import { TronWeb } from "tronweb";
import { describe, expect, inject, it } from "vitest";
import { addressFromPrivateKey, createAccount } from "../../shared/tron/address.ts";
import { buildTransaction, signTransaction } from "../../shared/tron/transaction.ts";
import { double, fund } from "./tron-double.ts";

describe("tronweb inside workerd", () => {
  it("derives the same address and the same signature as shared/tron, and talks to the double", async () => {
    const account = createAccount();
    const keyHex = Array.from(account.privateKey, (b) => b.toString(16).padStart(2, "0")).join("");
    expect(TronWeb.address.fromPrivateKey(keyHex)).toBe(addressFromPrivateKey(account.privateKey));

    const tw = new TronWeb({ fullHost: inject("tronDoubleUrl") });
    await fund(account.address, { trx: 3_000_000n });
    expect(await tw.trx.getUnconfirmedBalance(account.address)).toBe(3_000_000);

    const block = await double<{ blockID: string; block_header: { raw_data: { number: number; timestamp: number } } }>(
      "/wallet/getnowblock",
    );
    const ref = { number: block.block_header.raw_data.number, blockID: block.blockID, timestamp: block.block_header.raw_data.timestamp };
    const tx = buildTransaction({ type: "TransferContract", owner: account.address, to: createAccount().address, amount: 1_000_000n }, ref);
    const ours = signTransaction(tx, account.privateKey);
    const theirs = await tw.trx.sign(JSON.parse(JSON.stringify(tx)), keyHex); // tronweb types an unsigned tx differently
    expect(theirs.signature![0]!.toLowerCase()).toBe(ours.signature![0]);
  });
});
