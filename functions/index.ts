// The Worker entry: the Hono gateway plus every Durable Object class the bindings name.
import app from "./app.ts";

export { LedgerDO } from "../durable-objects/ledger/index.ts";
export { RateLimiterDO } from "../durable-objects/rate-limiter/index.ts";
export { SystemDO } from "../durable-objects/system/index.ts";
export type { AppType } from "./app.ts";

export default app;
