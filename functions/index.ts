// The Worker entry: the Hono gateway plus every Durable Object class the bindings name.
import app from "./app.ts";

export { ChainDO } from "../durable-objects/chain/index.ts";
export { AuditDO } from "../durable-objects/audit/index.ts";
export { LedgerDO } from "../durable-objects/ledger/index.ts";
export { LoginGuardDO } from "../durable-objects/login-guard/index.ts";
export { MailOutboxDO } from "../durable-objects/mail-outbox/index.ts";
export { UserDO } from "../durable-objects/user/index.ts";
export { UserIndexDO } from "../durable-objects/user-index/index.ts";
export { NodeDirectoryDO } from "../durable-objects/node-directory/index.ts";
export { NodePoolDO } from "../durable-objects/node-pool/index.ts";
export { RdpHostDO } from "../durable-objects/rdp-host/index.ts";
export { RateLimiterDO } from "../durable-objects/rate-limiter/index.ts";
export { SessionDO } from "../durable-objects/session/index.ts";
export { SessionIndexDO } from "../durable-objects/session-index/index.ts";
export { SystemDO } from "../durable-objects/system/index.ts";
export type { AppType } from "./app.ts";

export default app;
