// Tells @cloudflare/workers-types about this Worker, so `env` and `exports` from
// "cloudflare:workers" (used by the tests) are typed from our own definitions. Types only.
import type { Env as LucidEnv } from "../platform/env.ts";
import type * as Main from "./index.ts";

declare global {
  namespace Cloudflare {
    interface Env extends LucidEnv {}
    interface GlobalProps {
      mainModule: typeof Main;
      durableNamespaces:
        | "SystemDO"
        | "RateLimiterDO"
        | "UserDO"
        | "UserIndexDO"
        | "LoginGuardDO"
        | "AuditDO"
        | "MailOutboxDO"
        | "NodePoolDO"
        | "NodeDirectoryDO"
        | "SessionDO"
        | "SessionIndexDO"
        | "ChainDO"
        | "LedgerDO"
        | "AdminDO"
        | "RdpHostDO";
    }
  }
}
