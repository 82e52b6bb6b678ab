// Tells @cloudflare/workers-types about this Worker, so `env` and `exports` from
// "cloudflare:workers" (used by the tests) are typed from our own definitions.
// (An interface can only extend a named type, hence the alias.)
declare namespace Cloudflare {
  type LucidEnv = import("../shared/env.ts").Env;
  interface Env extends LucidEnv {}
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
    durableNamespaces: "SystemDO" | "RateLimiterDO" | "LedgerDO";
  }
}
