import type { Context } from "hono";
import type { RdpActor } from "../../durable-objects/rdp-host/index.ts";
import { ApiError } from "../../shared/errors.ts";
import { unwrap, type Outcome } from "../../shared/outcome.ts";
import { callDurableObject } from "../do-call.ts";
import { can } from "../../shared/rbac.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

export function hostStub(c: Context<AppEnv>, hostId: string) {
  return objectNamed(c.env, "RDP_HOSTS", hostId);
}

export function directory(c: Context<AppEnv>) {
  return singleton(c.env, "NODE_DIRECTORY");
}

/** Calls an RdpHostDO method; a returned refusal becomes the problem it names. */
export async function callHost<T>(method: string, call: () => Promise<Outcome<T>>): Promise<T> {
  return unwrap(await callDurableObject("RdpHostDO", method, call));
}

/** The signed-in caller and whether they operate the host (its node is theirs). Unknown hosts are 404. */
export async function actorFor(c: Context<AppEnv>, hostId: string): Promise<RdpActor> {
  const principal = principalOf(c);
  const placement = await callDurableObject("NodeDirectoryDO", "locate", () => directory(c).locate(hostId));
  if (!placement) throw new ApiError("not-found", `No host ${hostId}.`);
  return { userId: principal.userId, role: principal.role, operatesHost: placement.operatorId === principal.userId };
}

/** Host-wide views (status, listing, alerts): the host's operator or an admin; others see 404. */
export async function operatorFor(c: Context<AppEnv>, hostId: string): Promise<RdpActor> {
  const actor = await actorFor(c, hostId);
  if (!actor.operatesHost && !can(actor.role, "rdp:manage:any")) throw new ApiError("not-found", `No host ${hostId}.`);
  return actor;
}

/** Every host id the caller may list: all registered nodes for admins, their own for operators. */
export async function visibleHosts(c: Context<AppEnv>): Promise<string[]> {
  const principal = principalOf(c);
  if (can(principal.role, "rdp:manage:any")) {
    const pools = await callDurableObject("NodeDirectoryDO", "listPools", () => directory(c).listPools());
    const nodes = await Promise.all(
      pools.map((p) => callDurableObject("NodePoolDO", "listNodes", () => objectNamed(c.env, "NODE_POOLS", p.name).listNodes())),
    );
    return nodes.flat().map((n) => n.id);
  }
  const own = await callDurableObject("NodeDirectoryDO", "nodesOf", () => directory(c).nodesOf(principal.userId));
  return own.map((p) => p.nodeId);
}
