import { gcm } from "@noble/ciphers/aes.js";
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";

/**
 * Hot-wallet key custody. Private keys are sealed with AES-256-GCM under WALLET_ENCRYPTION_KEY,
 * a fresh random 96-bit nonce each time and the wallet id as associated data, so a sealed key
 * copied onto another wallet row does not open. Keys leave this module only to sign.
 */
export function parseWalletKey(text: string): Uint8Array {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? hexToBytes(text) : Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  if (key.length !== 32) throw new Error("WALLET_ENCRYPTION_KEY must be 32 bytes");
  return key;
}

export function sealKey(masterKey: Uint8Array, walletId: string, privateKey: Uint8Array): string {
  const nonce = randomBytes(12);
  const sealed = gcm(masterKey, nonce, utf8ToBytes(walletId)).encrypt(privateKey);
  return bytesToHex(nonce) + bytesToHex(sealed);
}

export function openKey(masterKey: Uint8Array, walletId: string, sealedHex: string): Uint8Array {
  const bytes = hexToBytes(sealedHex);
  return gcm(masterKey, bytes.subarray(0, 12), utf8ToBytes(walletId)).decrypt(bytes.subarray(12));
}

/**
 * Backup key derivation: PBKDF2-HMAC-SHA256 through WebCrypto (native code, so the ledger is not
 * blocked for seconds as a JavaScript scrypt would block it), 600 000 iterations (OWASP 2023).
 */
const PBKDF2_ITERATIONS = 600_000;

export interface BackupEnvelope {
  format: "lucid-wallet-backup";
  version: 1;
  kdf: { name: "PBKDF2-SHA256"; iterations: number; salt: string };
  cipher: "AES-256-GCM";
  nonce: string;
  ciphertext: string;
}

async function deriveBackupKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", utf8ToBytes(passphrase), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256);
  return new Uint8Array(bits);
}

/** Encrypts a backup under a passphrase (PBKDF2 → AES-256-GCM); the envelope header is the AAD. */
export async function sealBackup(passphrase: string, plaintext: string): Promise<BackupEnvelope> {
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const header = {
    format: "lucid-wallet-backup" as const,
    version: 1 as const,
    kdf: { name: "PBKDF2-SHA256" as const, iterations: PBKDF2_ITERATIONS, salt: bytesToHex(salt) },
  };
  const key = await deriveBackupKey(passphrase, salt, PBKDF2_ITERATIONS);
  const ciphertext = gcm(key, nonce, utf8ToBytes(JSON.stringify(header))).encrypt(utf8ToBytes(plaintext));
  return { ...header, cipher: "AES-256-GCM", nonce: bytesToHex(nonce), ciphertext: bytesToHex(ciphertext) };
}

/** Throws when the passphrase is wrong or the backup was altered. */
export async function openBackup(passphrase: string, envelope: BackupEnvelope): Promise<string> {
  const { iterations, salt } = envelope.kdf;
  if (iterations < 100_000 || iterations > 10_000_000) throw new Error("backup KDF iterations out of range");
  const header = { format: envelope.format, version: envelope.version, kdf: { name: envelope.kdf.name, iterations, salt } };
  const key = await deriveBackupKey(passphrase, hexToBytes(salt), iterations);
  const plaintext = gcm(key, hexToBytes(envelope.nonce), utf8ToBytes(JSON.stringify(header))).decrypt(hexToBytes(envelope.ciphertext));
  return new TextDecoder().decode(plaintext);
}
