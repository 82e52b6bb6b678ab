import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { can } from "../../shared/rbac.ts";

/** Who is calling a SessionDO: a signed-in user (with role) or a node holding a node credential. */
export type Actor =
  { kind: "user"; userId: string; role: "USER" | "NODE_OPERATOR" | "ADMIN" | "SUPER_ADMIN" } | { kind: "node"; nodeId: string };

/** What the caller wants to do; see `allowed`. */
export type Access = "view" | "control" | "delete" | "key" | "share" | "upload" | "download";

export function actorLabel(actor: Actor | "system"): string {
  if (actor === "system") return "system";
  return actor.kind === "user" ? `user:${actor.userId}` : `node:${actor.nodeId}`;
}

const mayManageAny = (actor: Actor) => actor.kind === "user" && can(actor.role, "recordings:manage:any");

/**
 * The ownership rules. Users see their own sessions (admins all); another user's session is
 * "not found" so ids cannot be probed. The assigned node may view, start/stop, fetch the data
 * key (to encrypt) and upload; any other node is refused. The plaintext data key goes to the
 * assigned node and the owner only: an admin sees every session but gets its key only as a
 * share wrapped for a named recipient (./shares.ts).
 */
export function allowed(actor: Actor, access: Access, owner: { ownerId: string; nodeId: string }): Outcome<void> {
  if (actor.kind === "node") {
    if (actor.nodeId !== owner.nodeId) return refuse("forbidden", "This node is not assigned to the session.");
    if (access === "delete" || access === "download" || access === "share") {
      return refuse("forbidden", "Nodes may not delete sessions, download their chunks or share their keys.");
    }
    return ok(undefined);
  }
  if (access === "upload") return refuse("forbidden", "Only the session's assigned node uploads chunks.");
  if (actor.userId !== owner.ownerId && !mayManageAny(actor)) return refuse("not-found", "No such session.");
  if (access === "key" && actor.userId !== owner.ownerId) {
    return refuse("forbidden", "Admins do not receive a session's plaintext data key; share it with a recipient instead (POST …/shares).");
  }
  return ok(undefined);
}
