import { z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import type { Permission } from "../../shared/rbac.ts";
import { can } from "../../shared/rbac.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { rateLimit } from "../middleware/rate-limit.ts";
import { createApp, jsonBody, jsonResponse, routesTagged } from "../openapi.ts";
import { ONE_FACTOR_MESSAGE, oneSecondFactor, requireSecondFactor, SecondFactorFields } from "../admin/step-up.ts";
import { BackupRequest, exportKeys } from "./export.ts";
import { requireIdempotencyKey } from "./idempotency.ts";
import { ledger, ledgerPlain } from "./ledger.ts";
import { operatorPayout } from "./operator-payout.ts";
import { loadConfig } from "../../shared/config.ts";
import { outcome, unwrap } from "../../shared/outcome.ts";
import { parseAmount, payoutRange, requireAddress } from "../../durable-objects/ledger/rules.ts";
import {
  Address,
  Amount,
  BackupSchema,
  CreateWalletSchema,
  IdParam,
  PayoutSchema,
  ReconciliationStatusSchema,
  StakeSchema,
  WalletSchema,
  WalletWithBalancesSchema,
} from "./schemas.ts";

/**
 * The payment gateway: wallets, KYC flags, payouts, USDT, staking and network status, all
 * owned by LedgerDO. Every POST needs an Idempotency-Key; the group has its own rate limit.
 */
const payments = createApp();

payments.use("*", rateLimit({ group: "payments", limit: (config) => config.RATE_LIMIT_PAYMENTS_PER_MINUTE }));
payments.use("*", async (c, next) => {
  principalOf(c); // every payments route needs a caller
  await next();
});
// Each route names its permission with guarded() (shared/rbac.ts). Writes run guardedWrite():
// the permission check first (privileged writes: the caller's current role and session, see
// functions/middleware/standing.ts), then the Idempotency-Key handling, so a refused caller gets
// 401/403 and a stored answer is never replayed to someone who may no longer ask.
const idempotency = requireIdempotencyKey({ unstored: ["/wallets/backup"] });
// Hot-wallet key export: a tight per-user quota on top of SUPER_ADMIN and a fresh TOTP code.
const exportQuota = rateLimit({ group: "wallet-export", limit: (config) => config.WALLET_EXPORTS_PER_HOUR, windowMs: 3_600_000 });

/** guarded() for a POST: the permission, then the export quota (key export only), then Idempotency-Key. */
function guardedWrite(permission: Permission) {
  const guard = guarded(permission);
  const middleware = permission === "wallets:export" ? [guard.middleware, exportQuota, idempotency] : [guard.middleware, idempotency];
  return { ...guard, middleware };
}

const idempotencyHeader = z.object({ "idempotency-key": z.string().optional() });
const post = { headers: idempotencyHeader };
const route = routesTagged("payments");

const Passphrase = z.string().min(12).max(1024);

/** POST /stakes/{id}/unfreeze and /stakes/{id}/withdraw share one shape: an empty body, the stake back. */
function stakeActionRoute<P extends `/stakes/${string}`>(path: P, summary: string) {
  return route(
    `POST ${path}`,
    summary,
    guardedWrite("wallets:manage"),
    { 200: jsonResponse(StakeSchema, "Stake") },
    [400, 401, 403, 404, 409, 422, 429, 503],
    { request: { ...post, params: IdParam, body: jsonBody(z.object({}).strict()) } },
  );
}

/** Routes are one chained expression so their types reach AppType (functions/client.ts). */
export const paymentsApp = payments
  // ── network and transactions ────────────────────────────────────────────────────────────
  .openapi(
    route(
      "GET /network",
      "TRON network status: current and solidified block, latency, circuit breaker",
      {},
      {
        200: jsonResponse(
          z.object({
            network: z.string(),
            rpcUrl: z.string(),
            block: z.number(),
            solidBlock: z.number(),
            latencyMs: z.number(),
            breaker: z.string(),
            usdtContract: z.string(),
            usdtDecimals: z.number(),
          }),
          "Network status",
        ),
      },
      [401, 429, 500, 503],
    ),
    async (c) => c.json(await ledger(c, "networkStatus", (s) => s.networkStatus()), 200),
  )
  .openapi(
    route(
      "GET /transactions/{txid}",
      "Status of any TRON transaction: unknown, included (with confirmations) or solidified",
      {},
      {
        200: jsonResponse(
          z.object({
            txid: z.string(),
            status: z.enum(["unknown", "included", "solidified"]),
            success: z.boolean().nullable(),
            blockNumber: z.number().nullable(),
            confirmations: z.number(),
          }),
          "Status",
        ),
      },
      [400, 401, 429, 503],
      { request: { params: z.object({ txid: z.string().regex(/^[0-9a-f]{64}$/) }) } },
    ),
    async (c) => c.json(await ledger(c, "transactionStatus", (s) => s.transactionStatus(c.req.valid("param").txid)), 200),
  )

  // ── USDT ────────────────────────────────────────────────────────────────────────────────
  .openapi(
    route(
      "GET /usdt/balance/{address}",
      "USDT (TRC20 balanceOf) of an address",
      {},
      { 200: jsonResponse(z.object({ address: z.string(), contract: z.string(), balance: z.string() }), "Balance") },
      [400, 401, 429, 503],
      { request: { params: z.object({ address: Address }) } },
    ),
    async (c) => c.json(await ledger(c, "usdtBalance", (s) => s.usdtBalance(c.req.valid("param").address)), 200),
  )
  .openapi(
    route(
      "GET /usdt/allowance",
      "USDT (TRC20 allowance) an owner granted a spender",
      {},
      { 200: jsonResponse(z.object({ owner: z.string(), spender: z.string(), contract: z.string(), allowance: z.string() }), "Allowance") },
      [400, 401, 429, 503],
      { request: { query: z.object({ owner: Address, spender: Address }) } },
    ),
    async (c) => {
      const { owner, spender } = c.req.valid("query");
      return c.json(await ledger(c, "usdtAllowance", (s) => s.usdtAllowance(owner, spender)), 200);
    },
  )

  // ── wallets (ADMIN) ─────────────────────────────────────────────────────────────────────
  .openapi(
    route(
      "POST /wallets",
      "Create or import a wallet (hot: key sealed with AES-256-GCM; cold/multisig/hardware: watch-only)",
      guardedWrite("wallets:manage"),
      { 201: jsonResponse(WalletSchema, "Wallet (never its key)") },
      [400, 401, 403, 409, 422, 429],
      { request: { ...post, body: jsonBody(CreateWalletSchema) } },
    ),
    async (c) => {
      const input = c.req.valid("json");
      const actor = principalOf(c).userId;
      return c.json(await ledger(c, "createWallet", (s) => s.createWallet({ ...input, actor })), 201);
    },
  )
  .openapi(
    route(
      "GET /wallets",
      "List wallets",
      guarded("wallets:manage"),
      { 200: jsonResponse(z.object({ wallets: z.array(WalletSchema) }), "Wallets") },
      [401, 403, 429],
    ),
    async (c) => c.json({ wallets: await ledgerPlain(c, "listWallets", (s) => s.listWallets()) }, 200),
  )
  .openapi(
    route(
      "GET /wallets/{id}",
      "A wallet with its TRX and USDT balances (cached for BALANCE_CACHE_TTL_SECONDS unless refresh=true)",
      guarded("wallets:manage"),
      { 200: jsonResponse(WalletWithBalancesSchema, "Wallet") },
      [400, 401, 403, 404, 429, 503],
      { request: { params: IdParam, query: z.object({ refresh: z.enum(["true", "false"]).optional() }) } },
    ),
    async (c) => {
      const refresh = c.req.valid("query").refresh === "true";
      return c.json(await ledger(c, "getWallet", (s) => s.getWallet(c.req.valid("param").id, refresh)), 200);
    },
  )
  .openapi(
    route(
      "PATCH /wallets/{id}",
      "Rename a wallet",
      guarded("wallets:manage"),
      { 200: jsonResponse(WalletSchema, "Wallet") },
      [400, 401, 403, 404, 429],
      { request: { params: IdParam, body: jsonBody(z.object({ label: z.string().min(1).max(100) }).strict()) } },
    ),
    async (c) =>
      c.json(
        await ledger(c, "updateWallet", (s) => s.updateWallet(c.req.valid("param").id, c.req.valid("json"), principalOf(c).userId)),
        200,
      ),
  )
  .openapi(
    route(
      "DELETE /wallets/{id}",
      "Delete a wallet (its sealed key is wiped; refused while payouts are in flight), with a fresh TOTP or recovery code in the body",
      guarded("wallets:manage"),
      { 200: jsonResponse(z.object({ deleted: z.literal(true) }), "Deleted") },
      [400, 401, 403, 404, 409, 413, 415, 429],
      { request: { params: IdParam, body: jsonBody(z.object(SecondFactorFields).strict().refine(oneSecondFactor, ONE_FACTOR_MESSAGE)) } },
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      // A hot wallet's key is destroyed for good: a stolen admin token alone must not be enough.
      await requireSecondFactor(c, "wallets.delete", c.req.valid("json"), id);
      return c.json(await ledger(c, "deleteWallet", (s) => s.deleteWallet(id, principalOf(c).userId)), 200);
    },
  )
  .openapi(
    route(
      "GET /wallets/{id}/transactions",
      "A wallet's history: payouts and stakes with their txids and states",
      guarded("wallets:manage"),
      { 200: jsonResponse(z.object({ payouts: z.array(PayoutSchema), stakes: z.array(StakeSchema) }), "History") },
      [400, 401, 403, 404, 429],
      { request: { params: IdParam } },
    ),
    async (c) => c.json(await ledger(c, "walletHistory", (s) => s.walletHistory(c.req.valid("param").id)), 200),
  )
  .openapi(
    route(
      "POST /wallets/backup",
      "Export every wallet, hot keys re-encrypted under a passphrase (PBKDF2-SHA256 + AES-256-GCM). SUPER_ADMIN only, with a fresh TOTP code, " +
        "judged by the caller's current role and session; WALLET_EXPORTS_PER_HOUR attempts per user; audited and alerted",
      guardedWrite("wallets:export"),
      { 200: jsonResponse(BackupSchema, "Encrypted backup") },
      [400, 401, 403, 429],
      { request: { ...post, body: jsonBody(BackupRequest) } },
    ),
    async (c) => c.json(await exportKeys(c, c.req.valid("json")), 200),
  )
  .openapi(
    route(
      "POST /wallets/recover",
      "Restore wallets from an encrypted backup (existing addresses are skipped)",
      guardedWrite("wallets:manage"),
      { 200: jsonResponse(z.object({ restored: z.number(), skipped: z.number() }), "Restored") },
      [400, 401, 403, 429],
      { request: { ...post, body: jsonBody(z.object({ passphrase: Passphrase, backup: BackupSchema }).strict()) } },
    ),
    async (c) => {
      const { passphrase, backup } = c.req.valid("json");
      return c.json(await ledger(c, "importBackup", (s) => s.importBackup(backup, passphrase, principalOf(c).userId)), 200);
    },
  )

  // ── KYC and audit (ADMIN) ───────────────────────────────────────────────────────────────
  .openapi(
    route(
      "POST /kyc",
      "Set or clear a recipient's KYC flag (audited)",
      guardedWrite("wallets:manage"),
      { 200: jsonResponse(z.object({ address: z.string(), verified: z.boolean(), setBy: z.string(), setAt: z.string() }), "KYC flag") },
      [400, 401, 403, 429],
      { request: { ...post, body: jsonBody(z.object({ address: Address, verified: z.boolean() }).strict()) } },
    ),
    async (c) => {
      const { address, verified } = c.req.valid("json");
      return c.json(await ledger(c, "setKyc", (s) => s.setKyc(address, verified, principalOf(c).userId)), 200);
    },
  )
  .openapi(
    route(
      "GET /audit",
      "The ledger's audit log, newest first",
      guarded("audit:read"),
      {
        200: jsonResponse(
          z.object({
            entries: z.array(
              z.object({
                at: z.string(),
                actor: z.string(),
                action: z.string(),
                subject: z.string(),
                detail: z.string().openapi({ description: "JSON text" }),
              }),
            ),
          }),
          "Audit log",
        ),
      },
      [400, 401, 403, 429],
      { request: { query: z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }) } },
    ),
    async (c) => c.json({ entries: await ledgerPlain(c, "auditLog", (s) => s.auditLog(c.req.valid("query").limit)) }, 200),
  )

  // ── payouts ─────────────────────────────────────────────────────────────────────────────
  .openapi(
    route(
      "POST /payouts",
      "Request a payout: an operator, of its node's available earnings to the node's payout address; an ADMIN, of anything. ADMIN approves",
      // Route middleware runs before the body's validator: a USER learns nothing about the body's rules.
      guardedWrite("payouts:request"),
      { 201: jsonResponse(PayoutSchema, "Payout requested") },
      [400, 401, 403, 404, 409, 422, 429],
      {
        request: {
          ...post,
          body: jsonBody(
            z
              .object({
                recipient: Address.optional().openapi({
                  description:
                    "Required for admins; an operator's payout goes to the node's registered payout address (if given, it must be that address)",
                }),
                amount: Amount,
                nodeId: z.string().min(1).max(128).optional().openapi({ description: "Operators: the node whose earnings are paid" }),
              })
              .strict(),
          ),
        },
      },
    ),
    async (c) => {
      const principal = principalOf(c);
      const { recipient, amount, nodeId } = c.req.valid("json");
      const units = unwrap(await outcome(() => parseAmount(amount, payoutRange(loadConfig(c.env)))));
      if (recipient !== undefined) unwrap(await outcome(() => requireAddress(recipient, "recipient")));
      if (can(principal.role, "payouts:manage:any")) {
        if (recipient === undefined)
          throw new ApiError("validation-failed", "recipient is required.", {
            errors: [{ location: "body", path: "recipient", message: "required" }],
          });
        const idempotencyKey = `${principal.userId}:${c.req.header("Idempotency-Key")}`;
        return c.json(
          await ledger(c, "requestPayout", (s) =>
            s.requestPayout({ idempotencyKey, recipient, amount, source: "admin", requestedBy: principal.userId }),
          ),
          201,
        );
      }
      if (nodeId === undefined)
        throw new ApiError("validation-failed", "nodeId is required: an operator is paid from a node's earnings.", {
          errors: [{ location: "body", path: "nodeId", message: "required" }],
        });
      return c.json(await operatorPayout(c, { nodeId, units, recipient }), 201);
    },
  )
  .openapi(
    route(
      "GET /payouts",
      "List payouts (ADMIN: all; others: their own requests)",
      {},
      { 200: jsonResponse(z.object({ payouts: z.array(PayoutSchema) }), "Payouts") },
      [400, 401, 429],
      {
        request: {
          query: z.object({
            state: PayoutSchema.shape.state.optional(),
            recipient: Address.optional(),
            limit: z.coerce.number().int().min(1).max(500).optional(),
          }),
        },
      },
    ),
    async (c) => {
      const principal = principalOf(c);
      const list = await ledgerPlain(c, "listPayouts", (s) => s.listPayouts(c.req.valid("query")));
      const visible = can(principal.role, "payouts:manage:any") ? list : list.filter((p) => p.requestedBy === principal.userId);
      return c.json({ payouts: visible }, 200);
    },
  )
  .openapi(
    route(
      "GET /payouts/{id}",
      "A payout's status and its state history (the payment status)",
      {},
      {
        200: jsonResponse(
          PayoutSchema.extend({
            events: z.array(z.object({ from: z.string().nullable(), to: z.string(), at: z.string(), detail: z.string().nullable() })),
          }),
          "Payout",
        ),
      },
      [400, 401, 404, 429],
      { request: { params: IdParam } },
    ),
    async (c) => {
      const principal = principalOf(c);
      const payout = await ledger(c, "getPayout", (s) => s.getPayout(c.req.valid("param").id));
      if (!can(principal.role, "payouts:manage:any") && payout.requestedBy !== principal.userId) {
        throw new ApiError("not-found", `No payout ${payout.id}.`);
      }
      return c.json(payout, 200);
    },
  )
  .openapi(
    route(
      "POST /payouts/{id}/approve",
      "Approve a requested payout (ADMIN, with a fresh TOTP or recovery code); it is signed and broadcast with the next batch",
      guardedWrite("payouts:approve"),
      { 200: jsonResponse(PayoutSchema, "Approved") },
      [400, 401, 403, 404, 409, 422, 429, 503],
      {
        request: {
          ...post,
          params: IdParam,
          body: jsonBody(
            z
              .object({ walletId: z.uuid().optional(), ...SecondFactorFields })
              .strict()
              .refine(oneSecondFactor, ONE_FACTOR_MESSAGE),
          ),
        },
      },
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      const { walletId, totpCode, recoveryCode } = c.req.valid("json");
      // Money leaves on this approval: a stolen admin token alone must not be enough.
      await requireSecondFactor(c, "payouts.approve", { totpCode, recoveryCode }, id);
      return c.json(await ledger(c, "approvePayout", (s) => s.approvePayout(id, principalOf(c).userId, walletId)), 200);
    },
  )
  .openapi(
    route(
      "POST /payouts/{id}/reject",
      "Reject a requested or approved payout (ADMIN)",
      guardedWrite("payouts:approve"),
      { 200: jsonResponse(PayoutSchema, "Rejected") },
      [400, 401, 403, 404, 409, 422, 429],
      { request: { ...post, params: IdParam, body: jsonBody(z.object({ reason: z.string().min(1).max(500) }).strict()) } },
    ),
    async (c) =>
      c.json(
        await ledger(c, "rejectPayout", (s) => s.rejectPayout(c.req.valid("param").id, principalOf(c).userId, c.req.valid("json").reason)),
        200,
      ),
  )
  .openapi(
    route(
      "POST /payouts/process",
      "Run the payout router now (ADMIN): reconcile in-flight payouts, sign and broadcast a batch",
      guardedWrite("payouts:approve"),
      {
        200: jsonResponse(
          z.object({
            signed: z.number(),
            broadcast: z.number(),
            confirmed: z.number(),
            failed: z.number(),
            requeued: z.number(),
            inFlight: z.number(),
            waiting: z.number(),
          }),
          "Summary",
        ),
      },
      [400, 401, 403, 409, 422, 429],
      { request: { ...post, body: jsonBody(z.object({}).strict()) } },
    ),
    async (c) => c.json(await ledgerPlain(c, "processPayouts", (s) => s.processPayouts()), 200),
  )

  .openapi(
    route(
      "GET /reconciliations",
      "Each hot wallet's latest reconciliation of on-chain USDT transfers with the ledger's payouts, and when the next is due",
      guarded("wallets:manage"),
      { 200: jsonResponse(ReconciliationStatusSchema, "Reconciliation status") },
      [401, 403, 429],
    ),
    async (c) => c.json(await ledgerPlain(c, "reconciliationStatus", (s) => s.reconciliationStatus()), 200),
  )
  // ── staking (ADMIN) ─────────────────────────────────────────────────────────────────────
  .openapi(
    route(
      "POST /stakes",
      "Freeze TRX for energy or bandwidth (Stake 2.0), at least MIN_STAKING_AMOUNT",
      guardedWrite("wallets:manage"),
      { 201: jsonResponse(StakeSchema, "Stake") },
      [400, 401, 403, 404, 409, 422, 429, 503],
      {
        request: {
          ...post,
          body: jsonBody(z.object({ walletId: z.uuid(), amount: Amount, resource: z.enum(["ENERGY", "BANDWIDTH"]) }).strict()),
        },
      },
    ),
    async (c) => {
      const input = c.req.valid("json");
      const idempotencyKey = `${principalOf(c).userId}:${c.req.header("Idempotency-Key")}`;
      return c.json(await ledger(c, "stake", (s) => s.stake({ ...input, idempotencyKey, actor: principalOf(c).userId })), 201);
    },
  )
  .openapi(
    route(
      "GET /stakes",
      "Stakes with status and accrued reward",
      guarded("wallets:manage"),
      { 200: jsonResponse(z.object({ stakes: z.array(StakeSchema) }), "Stakes") },
      [401, 403, 429],
    ),
    async (c) => c.json({ stakes: await ledgerPlain(c, "listStakes", (s) => s.listStakes()) }, 200),
  )
  .openapi(stakeActionRoute("/stakes/{id}/unfreeze", "Unfreeze a stake (not before STAKING_DURATION_DAYS)"), async (c) =>
    c.json(await ledger(c, "unstake", (s) => s.unstake(c.req.valid("param").id, principalOf(c).userId)), 200),
  )
  .openapi(stakeActionRoute("/stakes/{id}/withdraw", "Withdraw unfrozen TRX (after TRON's 14-day wait)"), async (c) =>
    c.json(await ledger(c, "withdrawStake", (s) => s.withdrawStake(c.req.valid("param").id, principalOf(c).userId)), 200),
  );
