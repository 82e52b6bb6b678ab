import { CHUNK_KEY_BYTES } from "../../shared/chunk.ts";

/**
 * Per-session data keys wrapped with the deployment's key-encryption key (SESSION_KEK) using
 * AES-256-GCM (WebCrypto). The AAD binds a wrapped key to its session so it cannot be moved to
 * another. Only SessionDO wraps and unwraps; the one other reader of the KEK is the session index,
 * which derives its search-term key from it with HKDF (session-index/terms.ts) and nothing else.
 */
const IV_BYTES = 12;
const aad = (sessionId: string) => new TextEncoder().encode(`lucid/session-data-key/v1/${sessionId}`);

/** The KEK's 32 bytes (SESSION_KEK is 64 hex digits or base64). */
export function kekBytes(kek: string): Uint8Array<ArrayBuffer> {
  return /^[0-9a-fA-F]{64}$/.test(kek)
    ? Uint8Array.from(kek.match(/../g)!, (byte) => parseInt(byte, 16))
    : Uint8Array.from(atob(kek), (ch) => ch.charCodeAt(0));
}

async function importKek(kek: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", kekBytes(kek), "AES-GCM", false, ["encrypt", "decrypt"]);
}

export function newDataKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(CHUNK_KEY_BYTES));
}

/** base64(iv ‖ ciphertext ‖ tag) */
export async function wrapDataKey(kek: string, sessionId: string, dataKey: Uint8Array): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(sessionId) }, await importKek(kek), dataKey),
  );
  const out = new Uint8Array(IV_BYTES + sealed.length);
  out.set(iv, 0);
  out.set(sealed, IV_BYTES);
  return toBase64(out);
}

export async function unwrapDataKey(kek: string, sessionId: string, wrapped: string): Promise<Uint8Array> {
  const bytes = fromBase64(wrapped);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: aad(sessionId) },
    await importKek(kek),
    bytes.subarray(IV_BYTES),
  );
  return new Uint8Array(plain);
}

export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}
