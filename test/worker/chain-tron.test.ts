// The chain's epoch anchor on TRON: ChainDO → LedgerDO (hot wallet, TRON client) → the TRON
// double (java-tron's HTTP API), followed to solidification; the evidence carries the proof and
// shared/verify checks it offline.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { epochOfSlot, slotAt, slotStart } from "../../shared/chain/schedule.ts";
import type { AnchorTx } from "../../shared/chain/transactions.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { verifyEvidence } from "../../shared/verify.ts";
import { double, fund, produce } from "./tron-double.ts";

const chain = env.CHAIN.get(env.CHAIN.idFromName(`chain-tron-${crypto.randomUUID()}`));
const ledger = env.LEDGER.get(env.LEDGER.idFromName("ledger"));

function anchor(sessionId: string): { tx: AnchorTx; hash: string } {
  const hash = toHex(sha256(new TextEncoder().encode(sessionId)));
  const root = toHex(sha256(new Uint8Array([0, ...hash.match(/../g)!.map((b) => parseInt(b, 16))])));
  return { tx: { type: "anchor", sessionId, root, chunkCount: 1, owner: "user-1", node: "node-1", interim: false }, hash };
}

describe("the chain head is anchored on TRON each epoch", () => {
  it("anchors the last block of an ended epoch, follows it to solidification, and the evidence proves it offline", async () => {
    // A funded hot wallet in the ledger (the oldest hot wallet signs anchors).
    const created = await ledger.createWallet({ kind: "hot", label: "anchors", actor: "admin-1" });
    expect(created.ok).toBe(true);
    for (const wallet of await ledger.listWallets()) if (wallet.kind === "hot") await fund(wallet.address, { trx: 1_000_000_000n });

    // Two blocks in the epoch before this one.
    const info = await chain.info();
    const epoch = epochOfSlot(info.timing, slotAt(info.timing, Date.now())) - 1;
    const first = epoch * info.timing.epochSlots;
    const a = anchor("tron-session-1");
    await chain.submit([a.tx]);
    const produceAt = (slot: number) => runInDurableObject(chain, (instance) => instance.produceAt(slotStart(info.timing, slot) + 1));
    const block1 = await produceAt(first + 1);
    await chain.submit([anchor("tron-session-2").tx]);
    const block2 = await produceAt(first + 2);
    expect([block1?.header.height, block2?.header.height]).toEqual([1, 2]);

    let now = Date.now();
    await chain.anchorOnTron(now);
    let [row] = await chain.tronAnchors();
    expect(row).toMatchObject({ epoch, height: 2, hash: block2!.hash, state: "broadcast", txid: expect.stringMatching(/^[0-9a-f]{64}$/) });

    await produce(1);
    await chain.anchorOnTron((now += 60_000));
    [row] = await chain.tronAnchors();
    expect(row).toMatchObject({ state: "included", blockNumber: expect.any(Number) });
    // Not yet solidified: the evidence already names the TRON transaction.
    const early = await chain.anchorEvidence("tron-session-1");
    expect(early && "tron" in early && early.tron).toMatchObject({ txid: row!.txid, solidified: false });

    await produce(20);
    await chain.anchorOnTron((now += 60_000));
    [row] = await chain.tronAnchors();
    expect(row).toMatchObject({ state: "solidified" });
    expect(row!.confirmations).toBeGreaterThanOrEqual(20);
    // On TRON: a 1-sun transfer to the black-hole address whose memo names the anchored block.
    const onTron = await double<{
      raw_data: { data: string; contract: { parameter: { value: { amount: number; to_address: string } } }[] };
    }>("/walletsolidity/gettransactionbyid", { value: row!.txid });
    const memo = new TextDecoder().decode(Uint8Array.from(onTron.raw_data.data.match(/../g)!.map((h) => parseInt(h, 16))));
    expect(memo).toBe(`lucid-anchor:v1:${info.chain}:${epoch}:2:${block2!.hash}`);
    expect(onTron.raw_data.contract[0]!.parameter.value).toMatchObject({ amount: 1, to_address: `41${"00".repeat(20)}` });
    // Later passes leave a solidified anchor alone, and the same epoch is never anchored twice.
    await chain.anchorOnTron((now += 60_000));
    expect(await chain.tronAnchors()).toHaveLength(1);

    const found = await chain.anchorEvidence("tron-session-1");
    if (!found || "pending" in found) throw new Error("no evidence");
    const evidence = found;
    expect(evidence.tron).toMatchObject({ txid: row!.txid, solidified: true, headers: [{ hash: block2!.hash }] });
    const bundle = {
      format: "lucid-evidence",
      version: 1,
      session: { id: "tron-session-1", owner: "user-1", node: "node-1" },
      chunks: [{ index: 0, sha256: a.hash }],
      manifest: { root: a.tx.root, chunkCount: 1 },
      anchor: evidence,
    };
    const result = await verifyEvidence(bundle, { requireTronAnchor: true, trustedProducers: [info.producer] });
    expect(result).toMatchObject({ ok: true });
    expect(result.checks.find((c) => c.step === "tron anchor")?.message).toContain(row!.txid);

    // Anything altered on the way to TRON is named.
    const tampered = async (change: (e: typeof evidence) => void) => {
      const copy = structuredClone(evidence);
      change(copy);
      return verifyEvidence({ ...bundle, anchor: copy });
    };
    const flipped = (hex: string, at: number) => hex.slice(0, at) + (hex[at] === "0" ? "1" : "0") + hex.slice(at + 1);
    expect(await tampered((e) => (e.tron!.rawDataHex = flipped(e.tron!.rawDataHex, 20)))).toMatchObject({
      ok: false,
      failure: { step: "tron anchor" },
    });
    expect(await tampered((e) => (e.tron!.txid = flipped(e.tron!.txid, 0)))).toMatchObject({ ok: false, failure: { step: "tron anchor" } });
    expect(await tampered((e) => (e.tron!.headers[0]!.header.timestamp += 1))).toMatchObject({
      ok: false,
      failure: { step: "tron anchor" },
    });
    expect(await tampered((e) => (e.tron!.headers = []))).toMatchObject({ ok: false, failure: { step: "tron anchor" } });
    expect(await verifyEvidence({ ...bundle, anchor: { ...evidence, tron: undefined } }, { requireTronAnchor: true })).toMatchObject({
      ok: false,
      failure: { step: "tron anchor" },
    });
  });
});
