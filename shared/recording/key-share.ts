import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, hexToBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";

/**
 * Key shares, format `lucid-key-share` version 1: a session's 32-byte data key wrapped for one
 * named recipient, so a recording can be handed over without the server's plaintext key ever
 * leaving it. Pure and browser-compatible (only @noble and zod): the server wraps with it, the
 * standalone verifier/player and `lucid` unwrap with it.
 *
 * Two kinds of recipient:
 * - `x25519`: the recipient's X25519 public key. The server makes an ephemeral key pair;
 *   shared = X25519(ephemeral secret, recipient public); wrapping key =
 *   HKDF-SHA256(ikm = shared, salt = ephemeralPublic ‖ recipientPublic, info = "lucid/key-share/v1/x25519", 32).
 *   The recipient computes shared = X25519(their secret, ephemeralPublic).
 * - `passphrase`: wrapping key = scrypt(passphrase (UTF-8, NFKC), salt (16 random bytes), N, r, p, 32);
 *   the parameters are stored in the share.
 *
 * Then ciphertext = XChaCha20-Poly1305(wrapping key, nonce (24 random bytes), data key, AAD), where
 * AAD = UTF-8 of `JSON.stringify(["lucid-key-share", 1, sessionId, label, recipientFields…])` with
 * the recipient's fields in the order shown in `aad()`: a share cannot be moved to another session
 * or relabelled, and its parameters cannot be swapped, without the unwrap failing.
 * All binary fields are base64 (standard, padded).
 */
export const KEY_SHARE_FORMAT = "lucid-key-share";
export const KEY_SHARE_VERSION = 1;
const X25519_INFO = utf8ToBytes("lucid/key-share/v1/x25519");
const DATA_KEY_BYTES = 32;

/** scrypt cost the server uses, and the bounds an unwrap accepts (a hostile share cannot ask for gigabytes). */
export const SCRYPT_DEFAULTS = { N: 2 ** 15, r: 8, p: 1 } as const;
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64");

export const keyShareSchema = z
  .object({
    format: z.literal(KEY_SHARE_FORMAT),
    version: z.literal(KEY_SHARE_VERSION),
    sessionId: z.string().min(1).max(128),
    label: z.string().max(200),
    recipient: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("x25519"), publicKey: b64, ephemeralPublicKey: b64 }).strict(),
      z
        .object({
          kind: z.literal("passphrase"),
          kdf: z.literal("scrypt"),
          salt: b64,
          N: z
            .number()
            .int()
            .min(2 ** 10)
            .max(2 ** 20),
          r: z.number().int().min(1).max(32),
          p: z.number().int().min(1).max(16),
        })
        .strict(),
    ]),
    cipher: z.literal("xchacha20-poly1305"),
    nonce: b64,
    ciphertext: b64,
  })
  .strict();
export type KeyShare = z.infer<typeof keyShareSchema>;

export class KeyShareError extends Error {
  override name = "KeyShareError";
}

export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** An X25519 public key given as 64 hex characters or base64 of 32 bytes. */
export function parseX25519PublicKey(text: string): Uint8Array {
  const trimmed = text.trim();
  let bytes: Uint8Array;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = hexToBytes(trimmed.toLowerCase());
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed)) bytes = fromBase64(trimmed.length === 43 ? `${trimmed}=` : trimmed);
  else throw new KeyShareError("an X25519 public key is 64 hex characters or 44 base64 characters");
  if (bytes.length !== 32) throw new KeyShareError("an X25519 public key has 32 bytes");
  return bytes;
}

/** A short, stable fingerprint of a recipient's public key (for audit entries and lists). */
export function keyFingerprint(publicKey: Uint8Array): string {
  return bytesToHex(sha256(publicKey)).slice(0, 16);
}

function aad(share: Pick<KeyShare, "sessionId" | "label" | "recipient">): Uint8Array {
  const r = share.recipient;
  const fields = r.kind === "x25519" ? [r.kind, r.publicKey, r.ephemeralPublicKey] : [r.kind, r.kdf, r.salt, r.N, r.r, r.p];
  return utf8ToBytes(JSON.stringify([KEY_SHARE_FORMAT, KEY_SHARE_VERSION, share.sessionId, share.label, ...fields]));
}

function seal(key: Uint8Array, dataKey: Uint8Array, head: Pick<KeyShare, "sessionId" | "label" | "recipient">): KeyShare {
  if (dataKey.length !== DATA_KEY_BYTES) throw new KeyShareError("a data key has 32 bytes");
  const nonce = randomBytes(24);
  const ciphertext = xchacha20poly1305(key, nonce, aad(head)).encrypt(dataKey);
  return {
    format: KEY_SHARE_FORMAT,
    version: KEY_SHARE_VERSION,
    ...head,
    cipher: "xchacha20-poly1305",
    nonce: toBase64(nonce),
    ciphertext: toBase64(ciphertext),
  };
}

function x25519Key(shared: Uint8Array, ephemeralPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(ephemeralPublic, recipientPublic), X25519_INFO, 32);
}

async function passphraseKey(passphrase: string, salt: Uint8Array, params: { N: number; r: number; p: number }): Promise<Uint8Array> {
  if (128 * params.r * params.N > SCRYPT_MAX_MEMORY) throw new KeyShareError("the share's scrypt parameters need too much memory");
  return scryptAsync(utf8ToBytes(passphrase.normalize("NFKC")), salt, { ...params, dkLen: 32 });
}

/** Wraps `dataKey` for the holder of an X25519 secret key. */
export function wrapForPublicKey(dataKey: Uint8Array, to: { sessionId: string; label: string; publicKey: Uint8Array }): KeyShare {
  const ephemeral = x25519.utils.randomSecretKey();
  const ephemeralPublic = x25519.getPublicKey(ephemeral);
  const shared = x25519.getSharedSecret(ephemeral, to.publicKey);
  const key = x25519Key(shared, ephemeralPublic, to.publicKey);
  return seal(key, dataKey, {
    sessionId: to.sessionId,
    label: to.label,
    recipient: { kind: "x25519", publicKey: toBase64(to.publicKey), ephemeralPublicKey: toBase64(ephemeralPublic) },
  });
}

/** Wraps `dataKey` under a passphrase (scrypt, the parameters stored in the share). */
export async function wrapForPassphrase(
  dataKey: Uint8Array,
  to: { sessionId: string; label: string; passphrase: string },
  params: { N: number; r: number; p: number } = SCRYPT_DEFAULTS,
): Promise<KeyShare> {
  const salt = randomBytes(16);
  const key = await passphraseKey(to.passphrase, salt, params);
  return seal(key, dataKey, {
    sessionId: to.sessionId,
    label: to.label,
    recipient: { kind: "passphrase", kdf: "scrypt", salt: toBase64(salt), ...params },
  });
}

/**
 * The recipient's side: the 32-byte data key, or a KeyShareError when the share is malformed,
 * the secret is not the recipient's, or anything in the share was altered.
 */
export async function unwrapKeyShare(input: unknown, secret: { secretKey: Uint8Array } | { passphrase: string }): Promise<Uint8Array> {
  const parsed = keyShareSchema.safeParse(input);
  if (!parsed.success)
    throw new KeyShareError(`not a ${KEY_SHARE_FORMAT} v${KEY_SHARE_VERSION}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const share = parsed.data;
  const r = share.recipient;
  let key: Uint8Array;
  if (r.kind === "x25519") {
    if (!("secretKey" in secret)) throw new KeyShareError("this share is for an X25519 key; give the secret key");
    const ephemeralPublic = fromBase64(r.ephemeralPublicKey);
    const ownPublic = x25519.getPublicKey(secret.secretKey);
    if (toBase64(ownPublic) !== r.publicKey) throw new KeyShareError("this share was made for another X25519 key");
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(secret.secretKey, ephemeralPublic);
    } catch {
      throw new KeyShareError("the share's ephemeral key is invalid");
    }
    key = x25519Key(shared, ephemeralPublic, ownPublic);
  } else {
    if (!("passphrase" in secret)) throw new KeyShareError("this share is for a passphrase; give the passphrase");
    key = await passphraseKey(secret.passphrase, fromBase64(r.salt), r);
  }
  const nonce = fromBase64(share.nonce);
  if (nonce.length !== 24) throw new KeyShareError("the share's nonce must have 24 bytes");
  try {
    const dataKey = xchacha20poly1305(key, nonce, aad(share)).decrypt(fromBase64(share.ciphertext));
    if (dataKey.length !== DATA_KEY_BYTES) throw new Error("length");
    return dataKey;
  } catch {
    throw new KeyShareError("the share does not open with this key or passphrase (wrong secret, or the share was altered)");
  }
}
