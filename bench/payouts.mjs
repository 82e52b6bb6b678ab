#!/usr/bin/env node
// Payouts per second through the batch pipeline (reference block → unseal key → build → sign →
// broadcast → confirm, against the TRON double over HTTP on 127.0.0.1) versus signing alone
// (secp256k1 over pre-built transactions), in the same run.
// Run: npx node bench/payouts.mjs  (Node ≥ 22.18: imports the TypeScript sources directly)
import { createAccount } from "../shared/tron/address.ts";
import { TronClient } from "../shared/tron/client.ts";
import { buildTransaction, signTransaction } from "../shared/tron/transaction.ts";
import { transferData } from "../shared/tron/trc20.ts";
import { openKey, sealKey } from "../durable-objects/ledger/keys.ts";
import { startTronDouble } from "../test/tron-double/server.ts";

const PAYOUTS = Number(process.env.BENCH_PAYOUTS ?? 1000);
const BATCH = Number(process.env.BENCH_BATCH ?? 50);
const CONCURRENCY = 8;

const double = await startTronDouble();
const client = new TronClient({ rpcUrl: double.url, timeoutMs: 5000, retries: 1 });
const master = crypto.getRandomValues(new Uint8Array(32));
const hot = createAccount();
const walletId = "bench-wallet";
const sealed = sealKey(master, walletId, hot.privateKey);
double.chain.fund(hot.address, 1_000_000_000_000n, { contract: double.usdt, units: 1_000_000_000_000_000n });
const recipients = Array.from({ length: 64 }, () => createAccount().address);
const net = (i) => 1_000_000n + BigInt(i);
const spec = (i) => ({
  type: "TriggerSmartContract",
  owner: hot.address,
  contract: double.usdt,
  data: transferData(recipients[i % recipients.length], net(i)),
});

async function pool(items, limit, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

// Baseline: signing alone.
const ref0 = await client.nowBlock();
const unsigned = Array.from({ length: PAYOUTS }, (_, i) =>
  buildTransaction(spec(i), ref0, { feeLimit: 30_000_000n, now: ref0.timestamp + i }),
);
let started = performance.now();
for (const tx of unsigned) signTransaction(tx, hot.privateKey);
const baseline = PAYOUTS / ((performance.now() - started) / 1000);

// Ours: the batch pipeline, signing included.
started = performance.now();
let confirmed = 0;
for (let offset = 0; offset < PAYOUTS; offset += BATCH) {
  const ref = await client.nowBlock();
  const batch = [];
  for (let i = offset; i < Math.min(PAYOUTS, offset + BATCH); i++) {
    const key = openKey(master, walletId, sealed);
    batch.push(signTransaction(buildTransaction(spec(i), ref, { feeLimit: 30_000_000n, now: ref.timestamp + i }), key));
    key.fill(0);
  }
  await pool(batch, CONCURRENCY, async (tx) => {
    const outcome = await client.broadcast(tx);
    if (!outcome.accepted) throw new Error(`broadcast refused: ${outcome.code} ${outcome.message}`);
  });
  double.chain.produceBlocks(1);
  await pool(batch, CONCURRENCY, async (tx) => {
    const info = await client.transactionInfo(tx.txID);
    if (!info?.success) throw new Error(`payout ${tx.txID} not confirmed`);
    confirmed++;
  });
}
const ours = confirmed / ((performance.now() - started) / 1000);
await double.close();

const fmt = (n) => n.toFixed(1);
console.log(`payouts=${PAYOUTS} batch=${BATCH} confirmed=${confirmed}`);
console.log(`BENCH payouts ours=${fmt(ours)} baseline=${fmt(baseline)} ratio=${(ours / baseline).toFixed(3)} unit=payouts/s`);
