import type { ChainDO } from "../durable-objects/chain/index.ts";
import type { RateLimiterDO } from "../durable-objects/rate-limiter/index.ts";
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
  CHAIN: DurableObjectNamespace<ChainDO>;
  CHUNKS: R2Bucket;
};
