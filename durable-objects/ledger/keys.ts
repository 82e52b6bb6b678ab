import { gcm } from "@noble/ciphers/aes.js";
import { scrypt } from "@noble/hashes/scrypt.js";
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

/** scrypt cost for backups: 2^15 × 8 × 128 B = 32 MiB, well inside a Worker's memory. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, dkLen: 32 } as const;

export interface BackupEnvelope {
  format: "lucid-wallet-backup";
  version: 1;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: "AES-256-GCM";
  nonce: string;
  ciphertext: string;
}

/** Encrypts a backup under a passphrase (scrypt → AES-256-GCM); the envelope itself is the AAD. */
export function sealBackup(passphrase: string, plaintext: string): BackupEnvelope {
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const key = scrypt(utf8ToBytes(passphrase), salt, SCRYPT);
  const header = { format: "lucid-wallet-backup" as const, version: 1 as const, kdf: { name: "scrypt" as const, N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: bytesToHex(salt) } };
  const aad = utf8ToBytes(JSON.stringify(header));
  const ciphertext = gcm(key, nonce, aad).encrypt(utf8ToBytes(plaintext));
  return { ...header, cipher: "AES-256-GCM", nonce: bytesToHex(nonce), ciphertext: bytesToHex(ciphertext) };
}

/** Throws when the passphrase is wrong or the backup was altered. */
export function openBackup(passphrase: string, envelope: BackupEnvelope): string {
  const { N, r, p, salt } = envelope.kdf;
  if (N > 2 ** 17 || r > 16 || p > 4) throw new Error("backup KDF parameters too expensive");
  const header = { format: envelope.format, version: envelope.version, kdf: { name: envelope.kdf.name, N, r, p, salt } };
  const key = scrypt(utf8ToBytes(passphrase), hexToBytes(salt), { N, r, p, dkLen: 32 });
  const plaintext = gcm(key, hexToBytes(envelope.nonce), utf8ToBytes(JSON.stringify(header))).decrypt(hexToBytes(envelope.ciphertext));
  return new TextDecoder().decode(plaintext);
}
