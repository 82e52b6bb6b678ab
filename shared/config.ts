import { z } from "zod";
import { parseUnits } from "./money.ts";
import { formatCidr, parseCidr } from "./ip.ts";
import { DEV_PUBLIC_ORIGIN, publicOrigin } from "./public-origin.ts";

/**
 * The Worker's configuration: wrangler.toml [vars] (the seed's defaults) plus secrets.
 * Parsed once per environment object by `loadConfig`; a missing or malformed value is
 * a ConfigError naming every offending variable, never a 500 somewhere deep inside.
 */
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().int().min(min).max(max));

const boolean = z.enum(["true", "false"]).transform((value) => value === "true");

/** A decimal amount with 6 decimals (USDT or TRX), carried as base units. */
const amount = z.string().transform((text, ctx) => {
  try {
    const units = parseUnits(text);
    if (units < 0n) throw new Error("negative");
    return units;
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a non-negative decimal with at most 6 places" });
    return z.NEVER;
  }
});

const ratio = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "must be a decimal number")
  .transform(Number)
  .pipe(z.number().min(0).max(1));

/** A 256-bit key as 64 hex characters or 44 base64 characters. */
const key256 = z.string().refine((text) => /^[0-9a-fA-F]{64}$/.test(text) || /^[A-Za-z0-9+/]{43}=$/.test(text), {
  message: "must be a 256-bit key: 64 hex characters or 44 base64 characters",
});

const tronAddress = z.string().regex(/^T[1-9A-HJ-NP-Za-km-z]{33}$/, "must be a base58 TRON address");

const origins = z
  .string()
  .min(1)
  .transform((text) =>
    text
      .split(",")
      .map((origin) => origin.trim())
      .filter(Boolean),
  )
  .refine((list) => list.length > 0 && list.every((o) => o === "*" || /^https?:\/\/[^\s/]+$/.test(o)), {
    message: 'must be "*" or a comma-separated list of origins such as https://app.example',
  });

/** Comma-separated CIDR ranges (IPv4 and IPv6; a bare address is one host), parsed once. */
const cidrList = z.string().transform((text, ctx) => {
  const ranges = [];
  for (const item of text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    try {
      ranges.push(parseCidr(item));
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `${(error as Error).message}; expected CIDR ranges such as 10.0.0.0/8, ::1/128` });
      return z.NEVER;
    }
  }
  return ranges;
});

/** Comma-separated http(s) base URLs (chain peers). */
const urlList = z
  .string()
  .transform((text) =>
    text
      .split(",")
      .map((url) => url.trim().replace(/\/+$/, ""))
      .filter(Boolean),
  )
  .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1));

/** Comma-separated Ed25519 public keys, 64 lowercase hex characters each (chain producers). */
const keyList = z
  .string()
  .transform((text) =>
    text
      .split(",")
      .map((key) => key.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters (an Ed25519 public key)")).min(1));

/** Empty or absent → undefined, so optional vars can sit in wrangler.toml as "". */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
/** Exactly 32 bytes (AES-256), as 64 hex characters or base64. Decoded only inside LedgerDO. */
const walletKey = z.string().regex(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, "must be 32 bytes as 64 hex characters or base64");

/** At least 32 bytes of entropy, as hex or base64 (what `npm start` generates). */
const secret = z.string().min(32, "must be at least 32 characters (256 bits as hex or base64)");

export const configSchema = z
  .object({
    LUCID_ENV: z.enum(["development", "test", "production"]),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]),
    /** Of the fast successful reads, one in N gets an access-log line (errors, writes, slow requests: all). */
    ACCESS_LOG_SAMPLE: integer(1, 1_000_000),
    CORS_ALLOWED_ORIGINS: origins,
    /** Required in production; elsewhere it defaults to wrangler dev's DEV_PUBLIC_ORIGIN. */
    PUBLIC_ORIGIN: optional(publicOrigin),
    /**
     * Where the client's address comes from, by deployment (docs/gateway.md "Client address and
     * public origin"): "cloudflare" reads CF-Connecting-IP, which Cloudflare's edge sets; "socket"
     * reads the peer address workerd gives in request.cf.clientIp (self-hosted, tests).
     */
    CLIENT_ADDRESS_SOURCE: z.enum(["cloudflare", "socket"]),
    /** Proxies whose X-Forwarded-For is believed (walked right to left past them); empty: none. */
    TRUSTED_PROXIES: optional(cidrList),
    MAX_BODY_BYTES: integer(1024, 16 * 1024 * 1024),
    RATE_LIMIT_PER_MINUTE: integer(1),
    RATE_LIMIT_PAYMENTS_PER_MINUTE: integer(1),
    JWT_ALGORITHM: z.literal("HS256"),
    JWT_SECRET_KEY: secret,
    BLOCKCHAIN_NETWORK: z.string().min(1),
    BLOCKCHAIN_CONSENSUS: z.literal("PoOT"),
    BLOCK_INTERVAL_SECONDS: integer(1, 3600),
    CHAIN_GENESIS_TIME: z
      .string()
      .datetime({ offset: true, message: "must be an ISO 8601 date-time" })
      .transform((text) => Date.parse(text)),
    CHAIN_EPOCH_SLOTS: integer(1, 1_000_000),
    CHAIN_EMPTY_BLOCKS: boolean,
    CHAIN_MAX_TXS_PER_BLOCK: integer(1, 100_000),
    // Validated here so a missing key is a start-up error; only ChainDO reads the value itself.
    CHAIN_PRODUCER_KEY: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters (an Ed25519 seed)")
      .transform(() => "[set]" as const),
    // Peers (other deployments of the same chain) to pull blocks from, and every producer's public key.
    CHAIN_PEERS: optional(urlList),
    CHAIN_PRODUCERS: optional(keyList),
    CHAIN_MAX_CLOCK_SKEW_MS: integer(0, 600_000),
    CHAIN_MAX_REORG_DEPTH: integer(1, 1_000_000),
    /** Peer sync: blocks per request (the peer's /sync/blocks serves at most 100), blocks validated per import, and the wall time one alarm may spend catching up before it continues in the next. */
    CHAIN_SYNC_PAGE_BLOCKS: integer(1, 100),
    CHAIN_SYNC_ROUND_BLOCKS: integer(1, 100_000),
    CHAIN_SYNC_BUDGET_MS: integer(0, 600_000),
    /** Anchor the head hash on TRON once an epoch (from the ledger's hot wallet). */
    CHAIN_TRON_ANCHORING: boolean,
    /** Rolling anchors: a recording session anchors its root every this many chunks (0: off). */
    CHAIN_INTERIM_ANCHOR_CHUNKS: integer(0, 1_000_000),
    /** Pruning: transaction bodies of blocks this far below the head move to the chunk store (0: keep all). */
    CHAIN_RETENTION_BLOCKS: integer(0),
    ANCHORING_ENABLED: boolean,
    CHUNK_SIZE_BYTES: integer(1024),
    CHUNK_MAX_BYTES: integer(1024),
    RETENTION_DAYS: integer(1, 36500),
    /** Tamper detection at rest: a stored session's chunks are re-hashed against its manifest this often (0: never). */
    INTEGRITY_SCRUB_INTERVAL_SECONDS: integer(0, 366 * 86_400),
    /** The scheduled scrub reads at most about this many chunk bytes per alarm run, then resumes from a checkpoint. */
    INTEGRITY_SCRUB_BYTES_PER_RUN: integer(1),
    SESSION_KEK: key256,
    RDP_PORT_MIN: integer(1, 65535),
    RDP_PORT_MAX: integer(1, 65535),
    RDP_MAX_SERVERS: integer(1),
    XRDP_PORT: integer(1, 65535),
    // RDP control plane (functions/rdp, RdpHostDO): timeouts, retries and per-server default limits.
    RDP_IDLE_TIMEOUT_SECONDS: integer(60, 7 * 86_400),
    RDP_SESSION_TTL_SECONDS: integer(60, 30 * 86_400),
    RDP_START_TIMEOUT_SECONDS: integer(10, 3600),
    RDP_COMMAND_MAX_ATTEMPTS: integer(1, 100),
    RDP_KEEPALIVE_SECONDS: integer(5, 3600),
    RDP_REPORT_SECONDS: integer(1, 3600),
    RDP_LIMIT_STRIKES: integer(1, 100),
    RDP_CPU_SHARE_PERCENT: integer(1, 100),
    RDP_MEMORY_MB: integer(64),
    RDP_DISK_MB: integer(16),
    RDP_BANDWIDTH_KBPS: integer(64),
    NODE_POOL_MAX_NODES: integer(1),
    HEARTBEAT_INTERVAL_SECONDS: integer(1),
    HEARTBEAT_MAX_SKEW_SECONDS: integer(1, 3600),
    EPOCH_SECONDS: integer(60),
    NODE_MIN_CPU_CORES: integer(0),
    NODE_MIN_MEMORY_MB: integer(0),
    NODE_MIN_DISK_GB: integer(0),
    NODE_MIN_BANDWIDTH_MBPS: integer(0),
    NODE_CREDENTIAL_TTL_SECONDS: integer(60),
    /** A heartbeat's seq may be at most this far above the last accepted one (so seq 2^53−1 cannot brick a node). */
    NODE_HEARTBEAT_SEQ_WINDOW: integer(1, 1_000_000_000),
    /** Reported vs observed sessions/bytes may differ by this share of the larger before an epoch is held for review. */
    NODE_REPORT_TOLERANCE_PERCENT: integer(0, 1000),
    CREDIT_USDT_UNITS: integer(0),
    AUTO_PAYOUT_THRESHOLD: amount,
    TRON_NETWORK: z.enum(["mainnet", "shasta", "nile"]),
    TRON_SIGNATURE_VERIFICATION_ENABLED: boolean,
    USDT_CONTRACT_ADDRESS: tronAddress,
    STAKING_CONTRACT_ADDRESS: tronAddress,
    MIN_STAKING_AMOUNT: amount,
    STAKING_DURATION_DAYS: integer(1),
    STAKING_REWARD_RATE: ratio,
    MIN_PAYOUT_AMOUNT: amount,
    MAX_PAYOUT_AMOUNT: amount,
    PAYOUT_FEE: amount,
    TRANSACTION_TIMEOUT_SECONDS: integer(1),
    WALLET_ENCRYPTION_ALGORITHM: z.literal("AES-256-GCM"),
    // Auth (functions/auth): JWT rotation, token lifetimes, session limit, login guard, mail.
    JWT_SECRET_KEY_PREVIOUS: optional(secret),
    ACCESS_TOKEN_TTL_SECONDS: integer(60, 3600),
    REFRESH_TOKEN_TTL_SECONDS: integer(300, 90 * 86400),
    MAX_SESSIONS_PER_USER: integer(1, 100),
    LOGIN_CHALLENGE_TTL_SECONDS: integer(30, 3600),
    MAGIC_LINK_TTL_SECONDS: integer(60, 86400),
    LOGIN_FAILURES_BEFORE_BACKOFF: integer(1, 100),
    LOGIN_BACKOFF_MAX_SECONDS: integer(1, 86400),
    /** Wrong step-up codes (TOTP or recovery) a user may send before the next attempt is throttled. */
    STEP_UP_MAX_FAILURES: integer(1, 100),
    /** The first step-up back-off; it doubles with each further wrong code up to the maximum. */
    STEP_UP_BACKOFF_SECONDS: integer(1, 86400),
    STEP_UP_BACKOFF_MAX_SECONDS: integer(1, 86400),
    BOOTSTRAP_SUPER_ADMIN_ADDRESS: optional(tronAddress),
    TOTP_ISSUER: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^:]+$/, "must not contain ':'"),
    MAIL_FROM: z.string().regex(/^[^\s@<>",]+@[^\s@<>",]+$/, "must be a plain address such as lucid@example.org"),
    MAIL_WEBHOOK_URL: optional(
      z
        .string()
        .url()
        .regex(/^https?:\/\//, "must be an http(s) URL"),
    ),
    MAIL_WEBHOOK_SECRET: optional(secret),
    /** "auto": the dev outbox is on unless LUCID_ENV is production. */
    MAIL_DEV_OUTBOX: z.enum(["auto", "true", "false"]),
    // Payments (functions/payments, LedgerDO, shared/tron)
    WALLET_ENCRYPTION_KEY: walletKey,
    /** Hot-wallet key exports (POST /payments/wallets/backup) one user may attempt per hour. */
    WALLET_EXPORTS_PER_HOUR: integer(1, 100),
    TRON_RPC_URL: optional(z.url({ protocol: /^https?$/ })),
    TRON_API_KEY: optional(z.string().min(1)),
    TRON_TIMEOUT_MS: integer(100, 60_000),
    TRON_MAX_RETRIES: integer(0, 10),
    TRON_BREAKER_THRESHOLD: integer(1, 1000),
    TRON_BREAKER_COOLDOWN_SECONDS: integer(1, 3600),
    TRON_FEE_LIMIT: amount,
    KYC_REQUIRED_ABOVE: amount,
    PAYOUT_BATCH_MAX: integer(1, 1000),
    PAYOUT_BATCH_INTERVAL_SECONDS: integer(1, 86_400),
    BALANCE_CACHE_TTL_SECONDS: integer(0, 3600),
    /** Automatic payouts (at AUTO_PAYOUT_THRESHOLD) are executed without an admin up to these sums per rolling day; beyond, held for review. */
    AUTO_PAYOUT_NODE_DAILY_MAX: amount,
    AUTO_PAYOUT_DAILY_MAX: amount,
    /** After a node's payout address changes (with a step-up), it receives nothing for this long. */
    PAYOUT_ADDRESS_COOLDOWN_SECONDS: integer(0, 90 * 86_400),
    /** How often LedgerDO compares each hot wallet's on-chain USDT transfers with its payouts. */
    PAYOUT_RECONCILE_INTERVAL_SECONDS: integer(10, 7 * 86_400),
    // Admin (functions/admin, AuditDO, AdminDO)
    AUDIT_ANCHOR_INTERVAL_SECONDS: integer(1, 86_400),
    EMERGENCY_CACHE_MS: integer(0, 60_000),
    /** Bearer token a Prometheus scraper presents at /api/v1/system/metrics (a secret; unset: ADMIN only). */
    METRICS_SCRAPE_TOKEN: optional(secret),
    /** Where alerts are sent (docs/admin.md "Alert webhooks"): comma-separated http(s) URLs, each signed with ALERT_WEBHOOK_SECRET. */
    ALERT_WEBHOOK_URLS: optional(urlList),
    ALERT_WEBHOOK_SECRET: optional(secret),
    /** Comma-separated addresses that get every alert by mail (through the configured mailer). */
    ALERT_MAIL_TO: optional(
      z
        .string()
        .transform((text) =>
          text
            .split(",")
            .map((a) => a.trim())
            .filter(Boolean),
        )
        .pipe(
          z
            .array(z.string().regex(/^[^\s@<>",]+@[^\s@<>",]+$/, "must be plain addresses such as ops@example.org"))
            .min(1)
            .max(20),
        ),
    ),
  })
  .superRefine((c, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (c.LUCID_ENV === "production" && c.PUBLIC_ORIGIN === undefined) {
      problem("PUBLIC_ORIGIN", "is missing: production needs the origin users reach, such as https://lucid.example");
    }
    if (c.CHUNK_SIZE_BYTES > c.CHUNK_MAX_BYTES) problem("CHUNK_SIZE_BYTES", "must not exceed CHUNK_MAX_BYTES");
    if (c.RDP_PORT_MIN > c.RDP_PORT_MAX) problem("RDP_PORT_MIN", "must not exceed RDP_PORT_MAX");
    if (c.MIN_PAYOUT_AMOUNT > c.MAX_PAYOUT_AMOUNT) problem("MIN_PAYOUT_AMOUNT", "must not exceed MAX_PAYOUT_AMOUNT");
    if (c.EPOCH_SECONDS < 2 * c.HEARTBEAT_INTERVAL_SECONDS) problem("EPOCH_SECONDS", "must be at least two heartbeat intervals");
    if (c.CHAIN_RETENTION_BLOCKS !== 0 && c.CHAIN_RETENTION_BLOCKS <= c.CHAIN_MAX_REORG_DEPTH) {
      problem("CHAIN_RETENTION_BLOCKS", "must exceed CHAIN_MAX_REORG_DEPTH (a reorg needs the bodies it drops), or be 0");
    }
    if (c.PAYOUT_FEE >= c.MIN_PAYOUT_AMOUNT) problem("PAYOUT_FEE", "must be below MIN_PAYOUT_AMOUNT");
    if (c.ALERT_WEBHOOK_URLS && !c.ALERT_WEBHOOK_SECRET) problem("ALERT_WEBHOOK_SECRET", "is missing: alert webhooks are always signed");
  })
  .transform((c) => ({ ...c, PUBLIC_ORIGIN: c.PUBLIC_ORIGIN ?? DEV_PUBLIC_ORIGIN, TRUSTED_PROXIES: c.TRUSTED_PROXIES ?? [] }));

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Names of values that must never be logged or returned. */
export const SECRET_KEYS = [
  "JWT_SECRET_KEY",
  "JWT_SECRET_KEY_PREVIOUS",
  "MAIL_WEBHOOK_SECRET",
  "CHAIN_PRODUCER_KEY",
  "WALLET_ENCRYPTION_KEY",
  "TRON_API_KEY",
  "SESSION_KEK",
  "METRICS_SCRAPE_TOKEN",
  "ALERT_WEBHOOK_SECRET",
] as const satisfies readonly (keyof Config)[];

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable} ${i.message}`).join("; ")}`);
  }
}

export function parseConfig(source: Record<string, unknown>): Config {
  // workerd binds an unset `fromEnvironment` variable as null: treat null and "" as missing.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== null && v !== ""));
  const result = configSchema.safeParse(present);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? "(config)"),
      message: issue.code === "invalid_type" && present[String(issue.path[0])] === undefined ? "is missing" : issue.message,
    })),
  );
}

// Keyed by the runtime's env object, which is stable for an isolate's lifetime: the
// schema runs once per isolate, not per request. A failed parse is cached as well so a
// misconfigured server answers every request with the same clear error cheaply.
const parsed = new WeakMap<object, Config | ConfigError>();

export function loadConfig(env: object): Config {
  let entry = parsed.get(env);
  if (!entry) {
    try {
      entry = parseConfig(env as Record<string, unknown>);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      entry = error;
    }
    parsed.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}

/** The configuration with secrets removed and amounts as decimal strings: safe to return or log. */
export function publicConfig(config: Config, formatAmount: (units: bigint) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
    out[key] = typeof value === "bigint" ? formatAmount(value) : key === "TRUSTED_PROXIES" ? config.TRUSTED_PROXIES.map(formatCidr) : value;
  }
  return out;
}
