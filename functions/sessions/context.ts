import type { Context } from "hono";
import type { SessionSummary } from "../../durable-objects/session-index/schema.ts";
import type { Actor, SessionView } from "../../durable-objects/session/index.ts";
import { ApiError } from "../../shared/errors.ts";
import { can } from "../../shared/rbac.ts";
import { unwrap, type Outcome } from "../../shared/outcome.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

/** The caller as a SessionDO sees it: a node with a node credential, or a signed-in user. */
export function actorOf(c: Context<AppEnv>): Actor {
  const node = c.get("node");
  if (node) return { kind: "node", nodeId: node.nodeId };
  const principal = principalOf(c);
  return { kind: "user", userId: principal.userId, role: principal.role };
}

/** A signed-in user only (nodes may not list, search or create). */
export function userActorOf(c: Context<AppEnv>): Extract<Actor, { kind: "user" }> {
  const actor = actorOf(c);
  if (actor.kind !== "user") throw new ApiError("forbidden", "Node credentials cannot do this; use a user's access token.");
  return actor;
}

/** Whether the actor may act on other owners' sessions (shared/rbac.ts "recordings:manage:any"). */
export const mayManageAny = (actor: Actor) => actor.kind === "user" && can(actor.role, "recordings:manage:any");

export function sessionStub(c: Context<AppEnv>, id: string) {
  return objectNamed(c.env, "SESSIONS", id);
}

export function indexStub(c: Context<AppEnv>) {
  return singleton(c.env, "SESSION_INDEX");
}

/** Calls a SessionDO method and turns a returned problem into the ApiError the route throws. */
export async function callSession<T>(method: string, call: () => Promise<Outcome<T>>): Promise<T> {
  return unwrap(await callDurableObject("SessionDO", method, call));
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function sessionJson(view: SessionView) {
  return {
    ...view,
    createdAt: iso(view.createdAt),
    updatedAt: iso(view.updatedAt),
    startedAt: isoOrNull(view.startedAt),
    stoppedAt: isoOrNull(view.stoppedAt),
    completedAt: isoOrNull(view.completedAt),
    expiresAt: iso(view.expiresAt),
    lastIntegrityCheck: view.lastIntegrityCheck ? { ...view.lastIntegrityCheck, at: iso(view.lastIntegrityCheck.at) } : null,
    legalHold: view.legalHold ? { ...view.legalHold, since: iso(view.legalHold.since) } : null,
  };
}

export function summaryJson(summary: SessionSummary) {
  return {
    id: summary.id,
    ownerId: summary.ownerId,
    nodeId: summary.nodeId,
    title: summary.title,
    tags: JSON.parse(summary.tags) as string[],
    notes: summary.notes,
    interaction: summary.interaction,
    state: summary.state,
    createdAt: iso(summary.createdAt),
    updatedAt: iso(summary.updatedAt),
  };
}

/** Opaque page cursors: base64url of the last item's position. */
export function encodeCursor(position: { createdAt: number; id: string }): string {
  return btoa(JSON.stringify([position.createdAt, position.id]))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/"))) as unknown[];
    if (typeof createdAt === "number" && Number.isSafeInteger(createdAt) && typeof id === "string" && id.length <= 64) {
      return { createdAt, id };
    }
  } catch {
    // fall through
  }
  throw new ApiError("validation-failed", "The query is invalid.", {
    errors: [{ location: "query", path: "cursor", message: "is not a cursor this API returned" }],
  });
}

/**
 * The guard of a route that checks its caller itself (no `x-permission`): index.ts admits a user or
 * the node, then the handler allows the owner, an admin or the assigned node.
 */
export const CALLER_CHECKED = {};
