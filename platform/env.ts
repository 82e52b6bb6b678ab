import type { ChainDO } from "../durable-objects/chain/index.ts";
import type { AuditDO } from "../durable-objects/audit/index.ts";
import type { AdminDO } from "../durable-objects/admin/index.ts";
import type { LedgerDO } from "../durable-objects/ledger/index.ts";
import type { LoginGuardDO } from "../durable-objects/login-guard/index.ts";
import type { MailOutboxDO } from "../durable-objects/mail-outbox/index.ts";
import type { UserIndexDO } from "../durable-objects/user-index/index.ts";
import type { UserDO } from "../durable-objects/user/index.ts";
import type { NodeDirectoryDO } from "../durable-objects/node-directory/index.ts";
import type { NodePoolDO } from "../durable-objects/node-pool/index.ts";
import type { RdpHostDO } from "../durable-objects/rdp-host/index.ts";
import type { RateLimiterDO } from "../durable-objects/rate-limiter/index.ts";
import type { SessionDO } from "../durable-objects/session/index.ts";
import type { SessionIndexDO } from "../durable-objects/session-index/index.ts";
import type { SystemDO } from "../durable-objects/system/index.ts";
import type { ConfigInput } from "../shared/config.ts";

/**
 * The Worker's bindings: the same names exist under wrangler dev, Miniflare, Cloudflare and
 * the edge adapter's generated workerd config. Values are strings as the runtime hands them
 * over; shared/config.ts validates and types them.
 */
export type Env = { [K in keyof ConfigInput]?: string } & {
  SYSTEM: DurableObjectNamespace<SystemDO>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiterDO>;
  SESSIONS: DurableObjectNamespace<SessionDO>;
  SESSION_INDEX: DurableObjectNamespace<SessionIndexDO>;
  CHAIN: DurableObjectNamespace<ChainDO>;
  CHUNKS: R2Bucket;
  USERS: DurableObjectNamespace<UserDO>;
  USER_INDEX: DurableObjectNamespace<UserIndexDO>;
  LOGIN_GUARD: DurableObjectNamespace<LoginGuardDO>;
  AUDIT: DurableObjectNamespace<AuditDO>;
  MAIL_OUTBOX: DurableObjectNamespace<MailOutboxDO>;
  /** Cloudflare Email Routing `send_email` binding; absent on self-hosted workerd. */
  SEND_EMAIL?: SendEmail;
  /** Self-hosted only (edge-adapter): the chunk directory as a writable workerd disk service. */
  CHUNK_DISK?: Fetcher;
  /** The web dashboard's built files: wrangler `[assets]`, or a read-only disk service self-hosted. */
  ASSETS?: Fetcher;
  NODE_POOLS: DurableObjectNamespace<NodePoolDO>;
  NODE_DIRECTORY: DurableObjectNamespace<NodeDirectoryDO>;
  LEDGER: DurableObjectNamespace<LedgerDO>;
  ADMIN: DurableObjectNamespace<AdminDO>;
  RDP_HOSTS: DurableObjectNamespace<RdpHostDO>;
};
