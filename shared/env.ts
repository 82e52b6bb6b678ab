import type { RateLimiterDO } from "../durable-objects/rate-limiter/index.ts";
import type { SessionDO } from "../durable-objects/session/index.ts";
import type { SessionIndexDO } from "../durable-objects/session-index/index.ts";
import type { SystemDO } from "../durable-objects/system/index.ts";
import type { ConfigInput } from "./config.ts";

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
  CHUNKS: R2Bucket;
  /** Self-hosted only: a workerd `disk` service the edge adapter binds; when present it replaces R2 as the chunk store. */
  DISK?: Fetcher;
};
