import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createAccount } from "../../shared/tron/address.ts";
import { adminGet, steppedUpAdmin } from "./admin-helpers.ts";
import { api, tokenFor } from "./helpers.ts";
import { fund } from "./tron-double.ts";

type Status = {
  wallets: {
    walletId: string;
    address: string;
    label: string;
    last: { at: string; transfers: number; payouts: number; differences: string[] } | null;
  }[];
  nextDueAt: string | null;
};

describe("GET /payments/reconciliations", () => {
  it("shows each hot wallet's latest run (none yet, then agreeing) and when the next is due; ADMIN only", async () => {
    const { token } = await steppedUpAdmin();
    const status = () => adminGet("/api/v1/payments/reconciliations", token).then((r) => r.json<Status>());
    expect(await status()).toEqual({ wallets: [], nextDueAt: null });

    const created = await api("/api/v1/payments/wallets", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({ kind: "hot", label: "payouts" }),
    });
    expect(created.status).toBe(201);
    const wallet = await created.json<{ id: string; address: string }>();
    // A watch-only wallet is not reconciled (nothing leaves it through Lucid).
    await api("/api/v1/payments/wallets", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({ kind: "cold", label: "vault", address: createAccount().address }),
    });
    await fund(wallet.address, { trx: 1_000_000_000n, usdt: 1_000_000n });
    const before = await status();
    expect(before.wallets).toEqual([{ walletId: wallet.id, address: wallet.address, label: "payouts", last: null }]);
    expect(Date.parse(before.nextDueAt!)).toBeGreaterThan(Date.now() - 60_000);

    const ran = await env.LEDGER.get(env.LEDGER.idFromName("ledger")).reconcileNow();
    expect(ran.ok).toBe(true);
    const after = await status();
    expect(after.wallets[0]!.last).toMatchObject({ transfers: 0, payouts: 0, differences: [] });
    expect(Date.parse(after.nextDueAt!)).toBeGreaterThan(Date.parse(after.wallets[0]!.last!.at));

    for (const role of ["USER", "NODE_OPERATOR"] as const) {
      expect((await adminGet("/api/v1/payments/reconciliations", await tokenFor(crypto.randomUUID(), role))).status).toBe(403);
    }
    expect((await api("/api/v1/payments/reconciliations")).status).toBe(401);
  });
});
