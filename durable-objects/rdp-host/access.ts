import { refuse, type Refusal } from "../../shared/outcome.ts";
import { can, type Role } from "../../shared/rbac.ts";

/**
 * Who calls an RdpHostDO method. The route resolves `operatesHost` (the caller operates this
 * host's node, per the node directory) before the call; the DO applies the rules.
 */
export interface RdpActor {
  userId: string;
  role: Role;
  operatesHost: boolean;
}

/**
 * view: owner, the host's operator, admins. control (connect, transfer, migrate): the desktop's
 * owner or an admin only. stop: owner, operator, admin. destroy / release: operator or admin.
 * A caller who may not even view gets "not found", so server ids cannot be probed.
 */
export type RdpAccess = "view" | "control" | "stop" | "destroy";

export function rdpRefusal(actor: RdpActor, access: RdpAccess, ownerId: string): Refusal | null {
  const admin = can(actor.role, "rdp:manage:any");
  const owner = actor.userId === ownerId;
  const operator = actor.operatesHost;
  if (!owner && !operator && !admin) return refuse("not-found", "No such RDP server.").problem;
  const allowed =
    access === "view" ||
    admin ||
    (access === "control" && owner) ||
    (access === "stop" && (owner || operator)) ||
    (access === "destroy" && operator);
  if (allowed) return null;
  const who = access === "control" ? "the desktop's owner or an admin" : "the host's operator or an admin";
  return refuse("forbidden", `Only ${who} may do this.`).problem;
}
