import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createAccount, toHexAddress } from "../../shared/tron/address.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { api, problemOf, tokenFor } from "./helpers.ts";
import { setAccrued, TestNode } from "./node-agent.ts";
import { fund, inspect, produce } from "./tron-double.ts";

type Role = "USER" | "NODE_OPERATOR" | "ADMIN" | "SUPER_ADMIN";

/**
 * A caller with its own token (and so its own rate-limit window). Admins are real login sessions
 * that passed TOTP: privileged writes check the caller's current role and session.
 */
async function caller(role: Role, userId = `${role.toLowerCase()}-${crypto.randomUUID()}`) {
  const admin = role === "ADMIN" || role === "SUPER_ADMIN" ? await steppedUpAdmin(role) : undefined;
  const token = admin?.token ?? (await tokenFor(userId, role));
  const seen: string[] = [];
  const call = async (method: string, path: string, body?: unknown, key: string | null = crypto.randomUUID()) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key !== null && method === "POST") headers["Idempotency-Key"] = key;
    const res = await api(`/api/v1/payments${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    seen.push(await res.clone().text());
    return res;
  };
  return { call, seen, totp: () => admin!.totp(), recovery: () => admin!.recovery() };
}

/** A NODE_OPERATOR with one registered node (its own fresh payout address) that has earned `accruedUnits`. */
async function operatorWithNode(accruedUnits: number) {
  const operatorId = `op-pay-${crypto.randomUUID()}`;
  const node = new TestNode(operatorId);
  const payoutAddress = createAccount().address;
  expect((await node.register({ payoutAddress })).status).toBe(201);
  await setAccrued(node, accruedUnits);
  return { ...(await caller("NODE_OPERATOR", operatorId)), node, payoutAddress };
}

async function hotWallet(admin: Awaited<ReturnType<typeof caller>>, usdt = 1_000_000_000n) {
  const res = await admin.call("POST", "/wallets", { kind: "hot", label: "treasury" });
  expect(res.status).toBe(201);
  const wallet = (await res.json()) as { id: string; address: string };
  await fund(wallet.address, { trx: 10_000_000_000n, usdt });
  return wallet;
}

describe("payments gateway", { timeout: 30_000 }, () => {
  let logs: string[] = [];
  beforeEach(() => {
    logs = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(" ")));
    }
  });
  afterEach(() => vi.restoreAllMocks());

  it("needs a token, the right role, and an Idempotency-Key on every POST", async () => {
    expect((await api("/api/v1/payments/wallets")).status).toBe(401);
    const user = await caller("USER");
    expect((await problemOf(await user.call("GET", "/wallets"))).type).toBe("/problems/forbidden");
    expect((await problemOf(await user.call("POST", "/payouts", { recipient: createAccount().address, amount: "5" }))).type).toBe(
      "/problems/forbidden",
    );
    const admin = await caller("ADMIN");
    const missing = await admin.call("POST", "/wallets", { kind: "hot", label: "x" }, null);
    expect(missing.status).toBe(400);
    expect((await problemOf(missing)).type).toBe("/problems/idempotency-key-required");
    expect(
      (await problemOf(await admin.call("POST", "/kyc", { address: createAccount().address, verified: true }, "bad key with spaces"))).type,
    ).toBe("/problems/idempotency-key-required");
  });

  it("rejects bad amounts and addresses with 4xx problems and creates nothing", async () => {
    const operator = await caller("NODE_OPERATOR");
    const recipient = createAccount().address;
    const cases: [unknown, string][] = [
      ["0.5", "/problems/invalid-amount"], // below min 1.0
      ["10000.000001", "/problems/invalid-amount"], // above max 10000.0
      ["abc", "/problems/invalid-amount"], // non-numeric
      ["1e3", "/problems/invalid-amount"],
      ["-5", "/problems/invalid-amount"],
      ["1.0000001", "/problems/invalid-amount"], // 7 decimals
      [12.5, "/problems/validation-failed"], // a JSON number, not a decimal string
    ];
    for (const [amount, type] of cases) {
      const res = await operator.call("POST", "/payouts", { recipient, amount });
      expect(res.status, String(amount)).toBe(400);
      expect((await problemOf(res)).type, String(amount)).toBe(type);
    }
    const below = await problemOf(await operator.call("POST", "/payouts", { recipient, amount: "0.999999" }));
    expect(below).toMatchObject({ min: "1.000000", max: "10000.000000" });
    for (const bad of ["TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD", "T123", "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"]) {
      expect((await problemOf(await operator.call("POST", "/payouts", { recipient: bad, amount: "5" }))).type).toBe(
        "/problems/invalid-address",
      );
    }
    const list = (await (await operator.call("GET", `/payouts?recipient=${recipient}`)).json()) as { payouts: unknown[] };
    expect(list.payouts).toEqual([]);
  });

  it("needs the recipient's KYC flag above the threshold; only an ADMIN sets it, and it is audited", async () => {
    const operator = await operatorWithNode(2_000_000_000);
    const admin = await caller("ADMIN");
    const recipient = operator.payoutAddress;
    const nodeId = operator.node.id;
    const refused = await operator.call("POST", "/payouts", { recipient, amount: "1000.000001", nodeId });
    expect(refused.status).toBe(403);
    expect(await problemOf(refused)).toMatchObject({ type: "/problems/kyc-required", threshold: "1000.000000" });
    // The refusal gave the reserved amount back to the node.
    expect(
      (
        await (
          await api(`/api/v1/nodes/${nodeId}`, {
            headers: { Authorization: `Bearer ${await tokenFor(operator.node.operatorId, "NODE_OPERATOR")}` },
          })
        ).json<{ node: { accrued: string } }>()
      ).node.accrued,
    ).toBe("2000.000000");
    expect((await operator.call("POST", "/kyc", { address: recipient, verified: true })).status).toBe(403);
    expect((await admin.call("POST", "/kyc", { address: recipient, verified: true })).status).toBe(200);
    const audit = (await (await admin.call("GET", "/audit")).json()) as { entries: { action: string; subject: string }[] };
    expect(audit.entries).toContainEqual(expect.objectContaining({ action: "kyc.set", subject: recipient }));
    expect((await operator.call("POST", "/payouts", { recipient, amount: "1000.000001", nodeId })).status).toBe(201);
  });

  it("replays a POST with the same Idempotency-Key and refuses the key for a different body", async () => {
    const operator = await operatorWithNode(100_000_000);
    const recipient = operator.payoutAddress;
    const nodeId = operator.node.id;
    const key = crypto.randomUUID();
    const first = await operator.call("POST", "/payouts", { recipient, amount: "7.25", nodeId }, key);
    const again = await operator.call("POST", "/payouts", { recipient, amount: "7.25", nodeId }, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    const other = await operator.call("POST", "/payouts", { recipient, amount: "8", nodeId }, key);
    expect(other.status).toBe(422);
    expect((await problemOf(other)).type).toBe("/problems/idempotency-key-reused");
  });

  it("refuses to approve a payout the wallet cannot cover (insufficient balance)", async () => {
    const admin = await caller("ADMIN");
    const wallet = await hotWallet(admin, 5_000_000n);
    const requested = (await (await admin.call("POST", "/payouts", { recipient: createAccount().address, amount: "5.2" })).json()) as {
      id: string;
    };
    const res = await admin.call("POST", `/payouts/${requested.id}/approve`, { walletId: wallet.id, ...admin.recovery() });
    expect(res.status).toBe(409);
    expect(await problemOf(res)).toMatchObject({ type: "/problems/insufficient-funds", available: "5.000000", needed: "5.100000" });
    const after = (await (await admin.call("GET", `/payouts/${requested.id}`)).json()) as { state: string };
    expect(after.state).toBe("requested");
    // USDT enough, but no TRX to burn for the transfer's energy
    const poor = (await (await admin.call("POST", "/wallets", { kind: "hot", label: "no trx" })).json()) as { id: string; address: string };
    await fund(poor.address, { usdt: 100_000_000n });
    const noTrx = await admin.call("POST", `/payouts/${requested.id}/approve`, { walletId: poor.id, ...admin.recovery() });
    expect(await problemOf(noTrx)).toMatchObject({ type: "/problems/insufficient-funds", asset: "TRX", needed: "30.000000" });
  });

  it("a stolen ADMIN token alone cannot approve a payout: the code is required, checked and spent", async () => {
    const admin = await caller("ADMIN");
    const wallet = await hotWallet(admin);
    const requested = (await (await admin.call("POST", "/payouts", { recipient: createAccount().address, amount: "3" })).json()) as {
      id: string;
    };
    const approve = (factor: Record<string, string>) =>
      admin.call("POST", `/payouts/${requested.id}/approve`, { walletId: wallet.id, ...factor });
    expect((await problemOf(await approve({}))).type).toBe("/problems/validation-failed");
    expect((await problemOf(await approve({ totpCode: "000000" }))).type).toBe("/problems/second-factor-required");
    expect((await problemOf(await approve({ recoveryCode: "AAAA-BBBB-CCCC-DDDD" }))).type).toBe("/problems/second-factor-required");
    const state = async () => ((await (await admin.call("GET", `/payouts/${requested.id}`)).json()) as { state: string }).state;
    expect(await state()).toBe("requested");
    const code = admin.recovery();
    expect((await approve(code)).status).toBe(200);
    expect(await state()).toBe("approved");
    const audit = env.AUDIT.get(env.AUDIT.idFromName("audit"));
    const refused = await audit.list({ limit: 20, action: "payouts.approve", outcome: "failure" });
    expect(refused.filter((e) => e.targetId === requested.id).map((e) => e.details.reason)).toEqual([
      "bad-second-factor",
      "bad-second-factor",
    ]);
  });

  it("pays a node operator's payout end to end: request → approve (ADMIN) → batch → solidified", async () => {
    const admin = await caller("ADMIN");
    const operator = await operatorWithNode(10_000_000);
    const wallet = await hotWallet(admin);
    const recipient = operator.payoutAddress;
    const requested = (await (await operator.call("POST", "/payouts", { amount: "10.0", nodeId: operator.node.id })).json()) as {
      id: string;
      state: string;
      net: string;
      fee: string;
      source: string;
    };
    expect(requested).toMatchObject({
      state: "requested",
      fee: "0.100000",
      net: "9.900000",
      source: "node",
      recipient,
      nodeId: operator.node.id,
    });
    expect((await operator.call("POST", `/payouts/${requested.id}/approve`, {})).status).toBe(403);
    const approved = await admin.call("POST", `/payouts/${requested.id}/approve`, { walletId: wallet.id, ...admin.recovery() });
    expect(approved.status).toBe(200);
    expect((await admin.call("POST", "/payouts/process", {})).status).toBe(200);
    let status = (await (await operator.call("GET", `/payouts/${requested.id}`)).json()) as { state: string; txid: string };
    expect(status.state).toBe("broadcast");
    await produce(20);
    await admin.call("POST", "/payouts/process", {});
    status = (await (await operator.call("GET", `/payouts/${requested.id}`)).json()) as { state: string; txid: string };
    expect(status.state).toBe("confirmed");
    const tx = (await (await operator.call("GET", `/transactions/${status.txid}`)).json()) as {
      status: string;
      success: boolean;
      confirmations: number;
    };
    expect(tx).toMatchObject({ status: "solidified", success: true });
    expect(tx.confirmations).toBeGreaterThanOrEqual(20);
    expect((await inspect(recipient)).transfersIn.map((t) => t.amount)).toEqual(["9900000"]);
    const balance = (await (await operator.call("GET", `/usdt/balance/${recipient}`)).json()) as { balance: string };
    expect(balance.balance).toBe("9.900000");
    const history = (await (await admin.call("GET", `/wallets/${wallet.id}/transactions`)).json()) as { payouts: { id: string }[] };
    expect(history.payouts.map((p) => p.id)).toContain(requested.id);
    // another operator does not see it
    const stranger = await caller("NODE_OPERATOR");
    expect((await stranger.call("GET", `/payouts/${requested.id}`)).status).toBe(404);
  });

  it("manages wallets: watch-only kinds, rename, balances, delete; multisig needs owners", async () => {
    const admin = await caller("ADMIN");
    const coldAddress = createAccount().address;
    await fund(coldAddress, { trx: 3_000_000n, usdt: 4_500_000n });
    const cold = (await (await admin.call("POST", "/wallets", { kind: "cold", label: "vault", address: coldAddress })).json()) as {
      id: string;
      watchOnly: boolean;
    };
    expect(cold.watchOnly).toBe(true);
    expect(
      (
        await problemOf(
          await admin.call("POST", "/wallets", { kind: "cold", label: "v", address: coldAddress, privateKey: "11".repeat(32) }),
        )
      ).type,
    ).toBe("/problems/validation-failed");
    const got = (await (await admin.call("GET", `/wallets/${cold.id}`)).json()) as { balances: { trx: string; usdt: string } };
    expect(got.balances).toMatchObject({ trx: "3.000000", usdt: "4.500000" });
    expect((await admin.call("PATCH", `/wallets/${cold.id}`, { label: "deep vault" })).status).toBe(200);
    const multisig = await admin.call("POST", "/wallets", {
      kind: "multisig",
      label: "board",
      address: createAccount().address,
      owners: [createAccount().address],
      threshold: 1,
    });
    expect(multisig.status).toBe(400);
    const ok = await admin.call("POST", "/wallets", {
      kind: "multisig",
      label: "board",
      address: createAccount().address,
      owners: [createAccount().address, createAccount().address],
      threshold: 2,
    });
    expect(ok.status).toBe(201);
    // Deleting (a hot wallet's key is wiped) needs a second factor: the token alone is refused and nothing goes.
    expect((await admin.call("DELETE", `/wallets/${cold.id}`)).status).toBe(400);
    expect((await problemOf(await admin.call("DELETE", `/wallets/${cold.id}`, { totpCode: "000000" }))).type).toBe(
      "/problems/second-factor-required",
    );
    expect((await admin.call("GET", `/wallets/${cold.id}`)).status).toBe(200);
    expect((await admin.call("DELETE", `/wallets/${cold.id}`, admin.recovery())).status).toBe(200);
    expect((await admin.call("GET", `/wallets/${cold.id}`)).status).toBe(404);
  });

  it("never returns or logs key material; a backup (SUPER_ADMIN, TOTP) restores a wallet that can still sign", async () => {
    const admin = await caller("SUPER_ADMIN");
    const imported = createAccount();
    const keyHex = Array.from(imported.privateKey, (b) => b.toString(16).padStart(2, "0")).join("");
    const created = await admin.call("POST", "/wallets", { kind: "hot", label: "imported", privateKey: keyHex });
    expect(created.status).toBe(201);
    const wallet = (await created.json()) as { id: string; address: string };
    expect(wallet.address).toBe(imported.address);
    await fund(wallet.address, { trx: 10_000_000_000n, usdt: 50_000_000n });

    await admin.call("GET", "/wallets");
    await admin.call("GET", `/wallets/${wallet.id}`);
    await admin.call("GET", "/audit");
    const backup = await (
      await admin.call("POST", "/wallets/backup", { passphrase: "correct horse battery staple", ...admin.totp() })
    ).json();
    expect((await admin.call("POST", "/wallets/recover", { passphrase: "wrong passphrase!!", backup })).status).toBe(400);
    expect((await admin.call("DELETE", `/wallets/${wallet.id}`, admin.recovery())).status).toBe(200);
    const restored = (await (
      await admin.call("POST", "/wallets/recover", { passphrase: "correct horse battery staple", backup })
    ).json()) as { restored: number };
    expect(restored.restored).toBeGreaterThanOrEqual(1);
    const wallets = (await (await admin.call("GET", "/wallets")).json()) as { wallets: { id: string; address: string }[] };
    const again = wallets.wallets.find((w) => w.address === imported.address)!;

    // the restored wallet signs a payout that the chain accepts
    const recipient = createAccount().address;
    const payout = (await (await admin.call("POST", "/payouts", { recipient, amount: "2" })).json()) as { id: string };
    expect((await admin.call("POST", `/payouts/${payout.id}/approve`, { walletId: again.id, ...admin.recovery() })).status).toBe(200);
    await admin.call("POST", "/payouts/process", {});
    expect((await inspect(recipient)).transfersIn).toEqual([]);
    await produce(1);
    expect((await inspect(recipient)).transfersIn.map((t) => t.amount)).toEqual(["1900000"]);

    const everything = [...admin.seen, ...logs].join("\n").toLowerCase();
    expect(everything).not.toContain(keyHex);
    expect(everything).not.toContain(toHexAddress(imported.address).slice(2) + keyHex); // sanity: no raw dumps
    expect(everything).not.toContain(btoa(String.fromCharCode(...imported.privateKey)).toLowerCase());
  });

  it("reports the TRON network status and refuses stakes below the minimum", async () => {
    const admin = await caller("ADMIN");
    const status = (await (await admin.call("GET", "/network")).json()) as { block: number; solidBlock: number; breaker: string };
    expect(status.block).toBeGreaterThan(status.solidBlock);
    expect(status.breaker).toBe("closed");
    const wallet = await hotWallet(admin);
    const res = await admin.call("POST", "/stakes", { walletId: wallet.id, amount: "999", resource: "ENERGY" });
    expect(await problemOf(res)).toMatchObject({ type: "/problems/invalid-amount", min: "1000.000000" });
  });

  it("has its own limit, advertised in RateLimit-* headers: the 101st request in a minute is refused with 429", async () => {
    const operator = await caller("NODE_OPERATOR");
    // An error answered inside the group carries the group's policy too (and counts).
    const invalid = await operator.call("GET", "/payouts?limit=0");
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get("RateLimit-Limit")).toBe("100");
    const remaining: number[] = [];
    for (let i = 1; i < 100; i++) {
      const res = await operator.call("GET", "/payouts?limit=1");
      expect(res.status).toBe(200);
      expect(res.headers.get("RateLimit-Policy")).toBe("100;w=60");
      expect(res.headers.get("RateLimit-Limit")).toBe("100");
      remaining.push(Number(res.headers.get("RateLimit-Remaining")));
    }
    expect(remaining.at(-1)).toBe(0);
    const refused = await operator.call("GET", "/payouts?limit=1");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("RateLimit-Policy")).toBe("100;w=60");
    expect(refused.headers.get("RateLimit-Limit")).toBe("100");
    expect(refused.headers.get("RateLimit-Remaining")).toBe("0");
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(await problemOf(refused)).toMatchObject({ type: "/problems/rate-limited", limit: 100 });
  });

  it("validates a payout body only after the caller's role: a USER with a bad body gets 403, anonymous 401", async () => {
    const user = await caller("USER");
    for (const bad of [{}, { recipient: "nope", amount: "x" }, { recipient: createAccount().address, amount: "5", extra: true }]) {
      const res = await user.call("POST", "/payouts", bad);
      expect(res.status).toBe(403);
      expect((await problemOf(res)).type).toBe("/problems/forbidden");
    }
    const anonymous = await api("/api/v1/payments/payouts", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: "{}",
    });
    expect(anonymous.status).toBe(401);
    // An operator with the same bad body learns what is wrong with it.
    expect((await (await caller("NODE_OPERATOR")).call("POST", "/payouts", {})).status).toBe(400);
  });
});
