import { desc } from "drizzle-orm";
import { z } from "zod";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import {
  keyFingerprint,
  KeyShareError,
  parseX25519PublicKey,
  wrapForPassphrase,
  wrapForPublicKey,
  type KeyShare,
} from "../../shared/recording/key-share.ts";
import { actorLabel, type Actor } from "./access.ts";
import type { Db } from "./integrity.ts";
import type { SessionContext } from "./context.ts";
import * as schema from "./schema.ts";
import type { SessionRow } from "./view.ts";

/**
 * Shares of a session's data key (shared/recording/key-share.ts): the key wrapped for one named
 * recipient, an X25519 public key or a passphrase. Only the wrapped envelope is stored; the
 * passphrase and the plaintext key never are.
 */
export const PASSPHRASE_MIN = 12;

export const shareInputSchema = z
  .object({
    label: z.string().trim().min(1).max(200),
    recipient: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("x25519"), publicKey: z.string().max(100) }).strict(),
      z.object({ kind: z.literal("passphrase"), passphrase: z.string().min(PASSPHRASE_MIN).max(1024) }).strict(),
    ]),
  })
  .strict();
export type ShareInput = z.infer<typeof shareInputSchema>;

export interface ShareView {
  id: string;
  label: string;
  recipient: "x25519" | "passphrase";
  /** First 16 hex characters of SHA-256(public key), for an X25519 recipient. */
  fingerprint: string | null;
  createdAt: number;
  createdBy: string;
  share: KeyShare;
}

/** Wraps the data key for the recipient; throws KeyShareError for a bad public key. */
export async function wrapShare(
  sessionId: string,
  dataKey: Uint8Array,
  input: ShareInput,
): Promise<{ share: KeyShare; fingerprint: string | null }> {
  if (input.recipient.kind === "x25519") {
    const publicKey = parseX25519PublicKey(input.recipient.publicKey);
    return { share: wrapForPublicKey(dataKey, { sessionId, label: input.label, publicKey }), fingerprint: keyFingerprint(publicKey) };
  }
  return {
    share: await wrapForPassphrase(dataKey, { sessionId, label: input.label, passphrase: input.recipient.passphrase }),
    fingerprint: null,
  };
}

/** Unwraps the data key (with `unwrapKey`, SessionDO's KEK), wraps it for the recipient, keeps the share and logs it. */
export async function createShare(
  kit: SessionContext,
  row: SessionRow,
  actor: Actor,
  input: ShareInput,
  unwrapKey: (wrapped: string) => Promise<Uint8Array>,
): Promise<Outcome<ShareView>> {
  const parsed = shareInputSchema.safeParse(input);
  if (!parsed.success) return refuse("validation-failed", "The share request is malformed.");
  if (!row.wrappedKey) return refuse("gone", "The session's data key was destroyed.");
  const key = await unwrapKey(row.wrappedKey);
  let wrapped: Awaited<ReturnType<typeof wrapShare>>;
  try {
    wrapped = await wrapShare(row.id, key, parsed.data);
  } catch (error) {
    if (error instanceof KeyShareError) return refuse("validation-failed", `The recipient's key is invalid: ${error.message}.`);
    throw error;
  } finally {
    key.fill(0);
  }
  const share = {
    id: crypto.randomUUID(),
    label: parsed.data.label,
    recipient: parsed.data.recipient.kind,
    envelope: wrapped.share,
    createdAt: Date.now(),
    createdBy: actorLabel(actor),
  };
  kit.transaction(() => {
    kit.db.insert(schema.shares).values(share).run();
    kit.event("key-shared", actor, { shareId: share.id, label: share.label, recipient: share.recipient, fingerprint: wrapped.fingerprint });
  });
  return ok(toShareView(share));
}

export function listShares(db: Db): ShareView[] {
  return db.select().from(schema.shares).orderBy(desc(schema.shares.createdAt)).all().map(toShareView);
}

export function toShareView(row: typeof schema.shares.$inferSelect): ShareView {
  const share = row.envelope;
  return {
    id: row.id,
    label: row.label,
    recipient: row.recipient as ShareView["recipient"],
    fingerprint:
      share.recipient.kind === "x25519" ? keyFingerprint(Uint8Array.from(atob(share.recipient.publicKey), (c) => c.charCodeAt(0))) : null,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    share,
  };
}
