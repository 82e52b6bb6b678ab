import { wordsOf } from "../../shared/recording/terms.ts";
import { kekBytes } from "../session/data-key.ts";

/**
 * Search terms of recordings, stored blind: the agent sends the window titles and typed words of
 * a chunk; the server normalises them (NFKC, lowercase, split on anything but letters and digits)
 * and keeps only keyed tokens, HMAC-SHA256 of "title:"+word or "text:"+word under a key derived
 * from SESSION_KEK (HKDF-SHA256, info "lucid/search-terms/v1"). A search computes the same tokens
 * for its query words, so equal words match and the stored rows never hold a word. Whole words
 * only: a token says nothing about prefixes.
 */
export const SEARCH_TERMS_INFO = "lucid/search-terms/v1";

/** Where a term came from: a focused window's title (`metadata` and `full`) or typed text (`full` only). */
export type TermField = "title" | "text";

/** Every distinct normalised word of several texts. */
export function distinctWords(texts: readonly string[]): string[] {
  return [...new Set(texts.flatMap(wordsOf))];
}

/** The HMAC key for tokens: derived from the KEK, never stored. */
export async function searchTermKey(kek: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", kekBytes(kek), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode(SEARCH_TERMS_INFO) },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
}

/** The stored token of one normalised word in one field (64 hex digits). */
export async function termToken(key: CryptoKey, field: TermField, word: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${field}:${word}`)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}
