import type { Config } from "../shared/config.ts";
import type { Env } from "../platform/env.ts";
import type { ApiError } from "../shared/errors.ts";

export type { Role } from "../shared/rbac.ts";
import type { Role } from "../shared/rbac.ts";

export interface Principal {
  userId: string;
  role: Role;
  /** Login session id (`sid` claim), absent in tokens not issued by functions/auth. */
  sessionId?: string;
}

/** A Pi node authenticated by its node credential (functions/middleware/node-credential.ts). */
export interface NodeIdentity {
  nodeId: string;
}

/** Hono's environment for every sub-app: bindings plus what the gateway's middleware sets. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    principal: Principal | undefined;
    node: NodeIdentity | undefined;
    /** Set by authenticate() when a presented token is invalid; thrown after rate limiting. */
    authFailure: ApiError | undefined;
  };
}
