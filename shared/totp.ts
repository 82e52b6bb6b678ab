/**
 * RFC 6238 TOTP (HMAC-SHA-1, 30-second steps, 6 digits) on @noble/hashes, plus the
 * `otpauth://` enrolment URI authenticator apps read. Secrets are 20 random bytes, base32.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { base32nopad } from "@scure/base";

export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
const SECRET_BYTES = 20;

export function generateTotpSecret(): string {
  return base32nopad.encode(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** RFC 4226 HOTP value of `counter` (dynamic truncation of HMAC-SHA-1). */
export function hotp(key: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const message = new Uint8Array(8);
  new DataView(message.buffer).setBigUint64(0, BigInt(counter));
  const mac = hmac(sha1, key, message);
  const offset = mac[19]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

export function totpStep(unixSeconds: number): number {
  return Math.floor(unixSeconds / TOTP_STEP_SECONDS);
}

export function totpCode(secretBase32: string, unixSeconds: number, digits = TOTP_DIGITS): string {
  return hotp(base32nopad.decode(secretBase32), totpStep(unixSeconds), digits);
}

/** Compares without an early exit, so timing does not reveal how many digits matched. */
function sameDigits(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The step `code` is valid for — the current one or one either side (clock drift) — provided
 * that step is later than `lastUsedStep`: a code, once accepted, can never be used again.
 * Null when nothing matches.
 */
export function matchTotp(secretBase32: string, code: string, unixSeconds: number, lastUsedStep: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const key = base32nopad.decode(secretBase32);
  const now = totpStep(unixSeconds);
  let matched: number | null = null;
  for (const step of [now - 1, now, now + 1]) {
    if (step > lastUsedStep && sameDigits(hotp(key, step), code) && matched === null) matched = step;
  }
  return matched;
}

export function otpauthUri(issuer: string, account: string, secretBase32: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({
    secret: secretBase32,
    issuer,
    algorithm: "SHA1",
    digits: String(TOTP_DIGITS),
    period: String(TOTP_STEP_SECONDS),
  });
  return `otpauth://totp/${label}?${query}`;
}
