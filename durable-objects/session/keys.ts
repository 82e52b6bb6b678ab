import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import type { Actor } from "./access.ts";
import type { SessionContext } from "./context.ts";
import { newDataKey, toBase64, unwrapDataKey, wrapDataKey } from "./data-key.ts";
import { createShare, listShares, type ShareInput, type ShareView } from "./shares.ts";

/**
 * The session's data key: made and wrapped under the key-encryption key at creation, released
 * (and the release logged) to the assigned node and the owner; admins share it wrapped for a named
 * recipient instead (shares.ts). Data keys are wrapped and unwrapped only here (the session index
 * derives a separate search-term key from the KEK: session-index/terms.ts).
 */
export class SessionKeys {
  constructor(private readonly s: SessionContext) {}

  /** A new data key for session `id`, wrapped for storage. */
  wrapNew(id: string): Promise<string> {
    return wrapDataKey(this.s.config.SESSION_KEK, id, newDataKey());
  }

  /** The plain data key (base64) for the assigned node (to encrypt) and the owner. */
  async release(actor: Actor): Promise<Outcome<{ key: string; algorithm: string }>> {
    const row = this.s.authorize(actor, "key");
    if (!row.ok) return row;
    if (!row.value.wrappedKey) return refuse("gone", "The session's data key was destroyed.");
    const key = await unwrapDataKey(this.s.config.SESSION_KEK, row.value.id, row.value.wrappedKey);
    this.s.transaction(() => this.s.event("key-released", actor));
    return ok({ key: toBase64(key), algorithm: "XChaCha20-Poly1305" });
  }

  /** Wraps the data key for a named recipient (owner or admin; the route enforces step-up for admins) and keeps the share. */
  async share(actor: Actor, input: ShareInput): Promise<Outcome<ShareView>> {
    const row = this.s.authorize(actor, "share");
    if (!row.ok) return row;
    return createShare(this.s, row.value, actor, input, (wrapped) => unwrapDataKey(this.s.config.SESSION_KEK, row.value.id, wrapped));
  }

  /** The session's shares: wrapped envelopes only. */
  shares(actor: Actor): Outcome<ShareView[]> {
    const row = this.s.authorize(actor, "share");
    return row.ok ? ok(listShares(this.s.db)) : row;
  }
}
