import { desc } from "drizzle-orm";
import { z } from "zod";
import { keyFingerprint, parseX25519PublicKey, wrapForPassphrase, wrapForPublicKey, type KeyShare } from "../../shared/recording/key-share.ts";
import type { Db } from "./integrity.ts";
import * as schema from "./schema.ts";

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
export async function wrapShare(sessionId: string, dataKey: Uint8Array, input: ShareInput): Promise<{ share: KeyShare; fingerprint: string | null }> {
  if (input.recipient.kind === "x25519") {
    const publicKey = parseX25519PublicKey(input.recipient.publicKey);
    return { share: wrapForPublicKey(dataKey, { sessionId, label: input.label, publicKey }), fingerprint: keyFingerprint(publicKey) };
  }
  return { share: await wrapForPassphrase(dataKey, { sessionId, label: input.label, passphrase: input.recipient.passphrase }), fingerprint: null };
}

export function insertShare(db: Db, row: typeof schema.shares.$inferInsert): void {
  db.insert(schema.shares).values(row).run();
}

export function listShares(db: Db): ShareView[] {
  return db.select().from(schema.shares).orderBy(desc(schema.shares.createdAt)).all().map(toShareView);
}

export function toShareView(row: typeof schema.shares.$inferSelect): ShareView {
  const share = JSON.parse(row.envelope) as KeyShare;
  return {
    id: row.id,
    label: row.label,
    recipient: row.recipient as ShareView["recipient"],
    fingerprint: share.recipient.kind === "x25519" ? keyFingerprint(Uint8Array.from(atob(share.recipient.publicKey), (c) => c.charCodeAt(0))) : null,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    share,
  };
}
