/**
 * Lucid's role-based access control as one table: role → the permissions it holds.
 * Routes name the permission they need (functions/middleware/authorize.ts enforces it and
 * writes it into the OpenAPI document as `x-permission`); nothing else decides access.
 * Ownership ("a USER reaches only their own resources") is checked on top of this by the
 * route: `*:own` permissions cover the caller's own records, `*:any` everyone's.
 */
export const ROLES = ["USER", "NODE_OPERATOR", "ADMIN", "SUPER_ADMIN"] as const;
export type Role = (typeof ROLES)[number];

/** Roles in increasing order of power. */
export const ROLE_RANK: Record<Role, number> = { USER: 0, NODE_OPERATOR: 1, ADMIN: 2, SUPER_ADMIN: 3 };

export const PERMISSIONS = [
  "profile:read:own",
  "profile:write:own",
  "sessions:manage:own",
  "totp:manage:own",
  "nodes:operate:own",
  "nodes:register",
  "rdp:host:operate",
  "payouts:request",
  "users:read:any",
  "users:role:write",
  "users:role:grant-admin",
  "sessions:revoke:any",
  "mail:outbox:read",
  "audit:read",
  "admin:read",
  "admin:manage",
  "emergency:control",
  "wallets:manage",
  "payouts:approve",
  "wallets:export",
  "nodes:manage:any",
  "chain:manage",
  "rdp:manage:any",
  "recordings:manage:any",
  "recordings:hold",
  "payouts:manage:any",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Routes open to anonymous callers declare this instead of a permission. */
export const PUBLIC = "public" as const;

const SELF_SERVICE: readonly Permission[] = ["profile:read:own", "profile:write:own", "sessions:manage:own", "totp:manage:own"];
/** Running nodes: register them, see and manage one's own, host RDP servers, request their payouts. */
const OPERATION: readonly Permission[] = ["nodes:operate:own", "nodes:register", "rdp:host:operate", "payouts:request"];
const ADMINISTRATION: readonly Permission[] = [
  "users:read:any",
  "users:role:write",
  "sessions:revoke:any",
  "mail:outbox:read",
  "audit:read",
  "admin:read",
  "admin:manage",
  // Also needs a fresh TOTP code with every request (functions/admin/step-up.ts).
  "emergency:control",
  // Deleting a wallet (its key is wiped) also needs a fresh second factor.
  "wallets:manage",
  // Approving a payout (money leaves) also needs a fresh second factor with every request.
  "payouts:approve",
  // Every operator's nodes: review held epochs, suspend and reinstate, terminate any.
  "nodes:manage:any",
  // Queue transactions on the chain directly.
  "chain:manage",
  // Every RDP host: its status, servers and monitor alerts; desktops on anyone's session.
  "rdp:manage:any",
  // Lucid sessions (functions/sessions) of any owner: create for, list and search them.
  "recordings:manage:any",
  // Put a session under legal hold and lift it (retention and deletion wait while held).
  "recordings:hold",
  // Every payout (not only one's own requests); request payouts to any address.
  "payouts:manage:any",
];

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  USER: new Set(SELF_SERVICE),
  NODE_OPERATOR: new Set([...SELF_SERVICE, ...OPERATION]),
  ADMIN: new Set([...SELF_SERVICE, ...OPERATION, ...ADMINISTRATION]),
  // Only a SUPER_ADMIN may grant (or take away) ADMIN and SUPER_ADMIN (with a fresh TOTP or recovery
  // code each time), and export hot-wallet keys (with a fresh TOTP code, rate limited; see
  // docs/admin.md "Step-up and privileged actions").
  SUPER_ADMIN: new Set([...SELF_SERVICE, ...OPERATION, ...ADMINISTRATION, "users:role:grant-admin", "wallets:export"]),
};

/**
 * Permissions whose writes (any method but GET/HEAD/OPTIONS) are privileged: the caller's
 * current role (the user directory) and login session (their UserDO) are checked on every such
 * request, so a demoted or revoked admin is refused at once, not when the token expires. Reads
 * under the same permission trust the token's claim.
 */
export const PRIVILEGED: ReadonlySet<Permission> = new Set([
  "users:role:write",
  "users:role:grant-admin",
  "sessions:revoke:any",
  "admin:manage",
  "emergency:control",
  "wallets:manage",
  "payouts:approve",
  "wallets:export",
  "nodes:manage:any",
  "chain:manage",
  "recordings:hold",
]);

export function isPrivileged(permission: Permission): boolean {
  return PRIVILEGED.has(permission);
}

export function can(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

/** Roles whose holders must pass TOTP at login before their tokens carry the role. */
export function needsSecondFactor(role: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK.ADMIN;
}

/**
 * Whether `actor` may move a user from role `from` to role `to` (the last-SUPER_ADMIN rule
 * needs the directory's count and is checked by UserIndexDO).
 */
export function mayChangeRole(actor: Role, from: Role, to: Role): boolean {
  if (!can(actor, "users:role:write")) return false;
  return !changesAdminAuthority(from, to) || can(actor, "users:role:grant-admin");
}

/**
 * Whether moving a user from `from` to `to` touches ADMIN or SUPER_ADMIN (grants, removes or
 * re-sets it): such a change needs `users:role:grant-admin` and a fresh second factor with the request (a stolen
 * token alone must not hand out authority). USER ⇄ NODE_OPERATOR gives no power over others.
 */
export function changesAdminAuthority(from: Role, to: Role): boolean {
  return ROLE_RANK[from] >= ROLE_RANK.ADMIN || ROLE_RANK[to] >= ROLE_RANK.ADMIN;
}

/**
 * Whether `actor` may act on `target`'s account (revoke their sessions): not on anyone who
 * outranks them, so an ADMIN cannot lock a SUPER_ADMIN out.
 */
export function mayActOn(actor: Role, target: Role): boolean {
  return ROLE_RANK[actor] >= ROLE_RANK[target];
}
