import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { unwrap } from "../../shared/outcome.ts";
import { callDurableObject } from "../do-call.ts";
import { can } from "../../shared/rbac.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv, Principal } from "../types.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

export function directory(c: Context<AppEnv>) {
  return singleton(c.env, "NODE_DIRECTORY");
}

export function pool(c: Context<AppEnv>, name: string) {
  return objectNamed(c.env, "NODE_POOLS", name);
}

/**
 * The pool holding a node the caller may see: its operator or an admin. Anyone else gets the
 * same 404 as for a node that does not exist, so node ids are not probed.
 */
export async function visibleNode(c: Context<AppEnv>, nodeId: string) {
  const principal = principalOf(c);
  const placement = await callDurableObject("NodeDirectoryDO", "locate", () => directory(c).locate(nodeId));
  if (!placement || (!can(principal.role, "nodes:manage:any") && placement.operatorId !== principal.userId)) {
    throw new ApiError("not-found", `No node ${nodeId}.`);
  }
  return { placement, stub: pool(c, placement.pool), principal };
}

/**
 * A node a session may be placed on: registered, and neither suspended nor terminated (an offline
 * node may come back, so it is accepted). Otherwise a 422 unknown-node or a 409 naming the state.
 */
export async function placeableNode(c: Context<AppEnv>, nodeId: string): Promise<{ pool: string }> {
  const placement = await callDurableObject("NodeDirectoryDO", "locate", () => directory(c).locate(nodeId));
  if (!placement) throw new ApiError("unknown-node", `No node ${nodeId} is registered.`, { nodeId });
  const node = await callDurableObject("NodePoolDO", "getNode", () => pool(c, placement.pool).getNode(nodeId));
  if (!node) throw new ApiError("unknown-node", `No node ${nodeId} is registered.`, { nodeId });
  if (node.state === "suspended" || node.state === "terminated") {
    throw new ApiError("node-state-conflict", `Node ${nodeId} is ${node.state}: no new sessions can be placed on it.`, {
      state: node.state,
    });
  }
  return { pool: placement.pool };
}

/**
 * Tells the node's pool that the server placed a session on it (before the session exists, so a
 * session is never recording unknown to its pool); PoOT counts only such sessions.
 */
export async function assignSessionToNode(c: Context<AppEnv>, poolName: string, nodeId: string, sessionId: string): Promise<void> {
  unwrap(await callDurableObject("NodePoolDO", "assignSession", () => pool(c, poolName).assignSession(nodeId, sessionId)));
}
