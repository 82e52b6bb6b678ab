/**
 * The login session in this tab: tokens from /auth/verify (kept in sessionStorage, so they
 * leave with the tab), one refresh at a time, and listeners for the UI.
 */
import type { Answer, Api, ApiProblem } from "./api.ts";
import { ROLE_RANK, type Role } from "../../../../shared/rbac.ts";

/** What /auth/verify (and the magic-link and refresh routes) answer. */
export type Tokens = Answer<Api["auth"]["verify"]["$post"]>;

const STORAGE_KEY = "lucid.dashboard.tokens";

function load(): Tokens | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

let tokens: Tokens | null = load();
let refreshing: Promise<boolean> | null = null;
let notice: string | null = null;
const listeners = new Set<() => void>();

function changed() {
  if (tokens) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
  else sessionStorage.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener();
}

export const auth = {
  current: () => tokens,
  accessToken: () => tokens?.accessToken ?? null,
  /** The role the tokens carry (USER for an ADMIN who has not enrolled TOTP). */
  role: (): Role | null => tokens?.effectiveRole ?? null,
  can: (least: Role) => !!tokens && ROLE_RANK[tokens.effectiveRole] >= ROLE_RANK[least],
  /** Why the user was sent back to the login page, once. */
  takeNotice: () => {
    const text = notice;
    notice = null;
    return text;
  },
  signedIn(next: Tokens) {
    tokens = next;
    changed();
  },
  signOut(reason?: string) {
    tokens = null;
    notice = reason ?? null;
    changed();
  },
  expired(problem: ApiProblem) {
    if (tokens) this.signOut(`Your session ended: ${problem.detail ?? problem.title}. Please sign in again.`);
  },
  /** Rotates the refresh token once for all concurrent callers; false when it no longer works. */
  refresh(): Promise<boolean> {
    const current = tokens;
    if (!current) return Promise.resolve(false);
    refreshing ??= (async () => {
      try {
        const res = await fetch("/api/v1/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refreshToken: current.refreshToken }),
        });
        if (!res.ok) return false;
        tokens = (await res.json()) as Tokens;
        changed();
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
