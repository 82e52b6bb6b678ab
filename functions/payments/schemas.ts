import { z } from "@hono/zod-openapi";

/** Amounts travel as decimal strings ("12.5"); LedgerDO checks places and range (invalid-amount). */
export const Amount = z.string().max(40).openapi({ example: "12.500000", description: "Decimal string, at most 6 places" });
export const Address = z.string().max(64).openapi({ example: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", description: "Base58 TRON address" });
export const IdParam = z.object({ id: z.uuid() });
export const IdempotencyHeader = z.object({
  "idempotency-key": z.string().openapi({ description: "Required on every POST; a retry with the same key replays the first answer" }),
});

export const WalletSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["hot", "cold", "multisig", "hardware"]),
    label: z.string(),
    address: z.string(),
    watchOnly: z.boolean(),
    owners: z.array(z.string()).nullable(),
    threshold: z.number().int().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Wallet");

export const WalletWithBalancesSchema = WalletSchema.extend({
  balances: z.object({ trx: z.string(), usdt: z.string(), fetchedAt: z.string() }),
}).openapi("WalletWithBalances");

export const CreateWalletSchema = z
  .discriminatedUnion("kind", [
    z
      .object({
        kind: z.literal("hot"),
        label: z.string().min(1).max(100),
        privateKey: z.string().optional().openapi({ description: "Import: 64 hex characters. Omit to generate a key." }),
      })
      .strict(),
    z.object({ kind: z.enum(["cold", "hardware"]), label: z.string().min(1).max(100), address: Address }).strict(),
    z
      .object({
        kind: z.literal("multisig"),
        label: z.string().min(1).max(100),
        address: Address,
        owners: z.array(Address).min(2).max(10),
        threshold: z.number().int().min(1).max(10),
      })
      .strict(),
  ])
  .openapi("CreateWallet");

export const PayoutSchema = z
  .object({
    id: z.string(),
    recipient: z.string(),
    amount: z.string(),
    fee: z.string(),
    net: z.string(),
    source: z.enum(["node", "admin"]),
    requestedBy: z.string(),
    nodeId: z.string().nullable(),
    heldReason: z
      .string()
      .nullable()
      .openapi({ description: "Why a payout waits for an admin (an automatic payout outside policy limits, a refused duplicate txid)" }),
    state: z.enum(["requested", "approved", "signed", "broadcast", "confirmed", "failed"]),
    approvedBy: z.string().nullable(),
    walletId: z.string().nullable(),
    txid: z.string().nullable(),
    attempts: z.number().int(),
    blockNumber: z.number().int().nullable(),
    failureReason: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Payout");

export const StakeSchema = z
  .object({
    id: z.string(),
    walletId: z.string(),
    amount: z.string(),
    resource: z.enum(["ENERGY", "BANDWIDTH"]),
    state: z.enum(["freezing", "frozen", "unfreezing", "unfrozen", "withdrawing", "withdrawn", "failed"]),
    txid: z.string().nullable(),
    rewardRate: z.string(),
    accruedReward: z.string(),
    frozenAt: z.string().nullable(),
    unfreezeAfter: z.string().nullable(),
    withdrawableAt: z.string().nullable(),
    failureReason: z.string().nullable(),
  })
  .openapi("Stake");

export const BackupSchema = z
  .object({
    format: z.literal("lucid-wallet-backup"),
    version: z.literal(1),
    kdf: z
      .object({
        name: z.literal("PBKDF2-SHA256"),
        iterations: z.number().int().min(100_000).max(10_000_000),
        salt: z.string().regex(/^[0-9a-f]{32}$/),
      })
      .strict(),
    cipher: z.literal("AES-256-GCM"),
    nonce: z.string().regex(/^[0-9a-f]{24}$/),
    ciphertext: z
      .string()
      .regex(/^([0-9a-f]{2})+$/)
      .max(2_000_000),
  })
  .strict()
  .openapi("WalletBackup");

const ReconciliationRunSchema = z.object({
  walletId: z.string(),
  address: z.string(),
  at: z.string(),
  transfers: z.number().int(),
  payouts: z.number().int(),
  /** Empty when the chain and the ledger agree. */
  differences: z.array(z.string()),
});

export const ReconciliationStatusSchema = z
  .object({
    wallets: z.array(z.object({ walletId: z.string(), address: z.string(), label: z.string(), last: ReconciliationRunSchema.nullable() })),
    nextDueAt: z.string().nullable(),
  })
  .openapi("ReconciliationStatus");
