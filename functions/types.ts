import type { Config } from "../shared/config.ts";
import type { Env } from "../shared/env.ts";

export type { Role } from "../shared/rbac.ts";
import type { Role } from "../shared/rbac.ts";

export interface Principal {
  userId: string;
  role: Role;
  /** Login session id (`sid` claim), absent in tokens not issued by functions/auth. */
  sessionId?: string;
}

/** Hono's environment for every sub-app: bindings plus what the gateway's middleware sets. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    principal: Principal | undefined;
  };
}
