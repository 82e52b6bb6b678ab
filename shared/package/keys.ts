import { fromBase64, keyShareSchema, KeyShareError, unwrapKeyShare, type KeyShare } from "../recording/key-share.ts";
import { PATHS } from "./format.ts";
import type { ByteSource, TarMember } from "./tar.ts";

/**
 * Opening a package's data key with the recipient's own secret: the package carries every share of
 * the key as `keys/<shareId>.json` (a `lucid-key-share` envelope, shared/recording/key-share.ts);
 * the recipient gives a passphrase or an X25519 secret key and the shares of that kind are tried in
 * turn. Pure and runtime-neutral: the CLI (scripts/verify-package.ts) and verify.html use it.
 */
export type RecipientSecret = { passphrase: string } | { secretKey: Uint8Array };

export interface OpenedKey {
  key: Uint8Array;
  shareId: string;
  label: string;
}

/** Raised when no share in the package opens with the secret given (wrong secret, or no share of that kind). */
export class NoShareOpens extends Error {
  override name = "NoShareOpens";
}

/** The passphrase as written in a file: the file's text without one trailing line break. */
export function passphraseFromFile(text: string): string {
  return text.replace(/\r?\n$/, "");
}

/** An X25519 secret key given as 64 hex characters or base64 of 32 bytes (surrounding whitespace ignored). */
export function parseX25519SecretKey(text: string): Uint8Array {
  const t = text.trim();
  let bytes: Uint8Array | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(t)) bytes = Uint8Array.from(t.match(/../g)!, (b) => parseInt(b, 16));
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(t)) bytes = fromBase64(t.length === 43 ? `${t}=` : t);
  if (!bytes || bytes.length !== 32) throw new KeyShareError("an X25519 secret key is 64 hex characters or 44 base64 characters");
  return bytes;
}

/**
 * The data key from the first share of session `sessionId` in the package that opens with `secret`;
 * NoShareOpens otherwise. Shares of another session are skipped.
 */
export async function openPackageKey(
  source: ByteSource,
  members: TarMember[],
  sessionId: string,
  secret: RecipientSecret,
): Promise<OpenedKey> {
  const kind = "passphrase" in secret ? "passphrase" : "x25519";
  const shares: { id: string; share: KeyShare }[] = [];
  for (const m of members) {
    if (m.type !== "file" || !m.name.startsWith(PATHS.keysDir) || !m.name.endsWith(".json")) continue;
    let parsed;
    try {
      parsed = keyShareSchema.safeParse(JSON.parse(new TextDecoder().decode(await source.read(m.offset, m.size))));
    } catch {
      continue;
    }
    if (parsed.success && parsed.data.recipient.kind === kind && parsed.data.sessionId === sessionId)
      shares.push({ id: m.name.slice(PATHS.keysDir.length, -".json".length), share: parsed.data });
  }
  const what = kind === "passphrase" ? "passphrase" : "X25519 key";
  if (!shares.length)
    throw new NoShareOpens(
      `the package carries no share of the data key for ${kind === "passphrase" ? "a passphrase" : "an X25519 key"} (keys/ has none of that kind)`,
    );
  for (const { id, share } of shares) {
    try {
      return { key: await unwrapKeyShare(share, secret), shareId: id, label: share.label };
    } catch (error) {
      if (!(error instanceof KeyShareError)) throw error;
    }
  }
  const n = shares.length;
  throw new NoShareOpens(
    `the ${what} opens none of the package's ${n} ${what} share${n === 1 ? "" : "s"} (wrong ${kind === "passphrase" ? "passphrase" : "secret key"}?)`,
  );
}
