import type { Config } from "../shared/config.ts";
import type { Env } from "../shared/env.ts";

export type Role = "USER" | "NODE_OPERATOR" | "ADMIN" | "SUPER_ADMIN";

export interface Principal {
  userId: string;
  role: Role;
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
  };
}
