// The Worker entry: the Hono gateway plus every Durable Object class the bindings name.
import app from "./app.ts";

export { RateLimiterDO } from "../durable-objects/rate-limiter/index.ts";
export { SessionDO } from "../durable-objects/session/index.ts";
export { SessionIndexDO } from "../durable-objects/session-index/index.ts";
export { SystemDO } from "../durable-objects/system/index.ts";
export type { AppType } from "./app.ts";

export default app;
