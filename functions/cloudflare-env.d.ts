// Tells @cloudflare/workers-types about this Worker, so `env` and `exports` from
// "cloudflare:workers" (used by the tests) are typed from our own definitions.
declare namespace Cloudflare {
  interface Env extends import("../shared/env.ts").Env {}
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
    durableNamespaces: "SystemDO" | "RateLimiterDO" | "SessionDO" | "SessionIndexDO";
  }
}
