/** The session data key: 32 bytes stored as 64 hex characters in a 0600 file. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

export function readKey(path: string): Uint8Array {
  const text = readFileSync(path, "utf8").trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new Error(`${path} must hold a 32-byte key as 64 hex characters`);
  return Uint8Array.from(Buffer.from(text, "hex"));
}

/** Reads the key at `path`, creating a random one first if the file does not exist. */
export function readOrCreateKey(path: string): { key: Uint8Array; created: boolean } {
  if (existsSync(path)) return { key: readKey(path), created: false };
  const key = new Uint8Array(randomBytes(32));
  writeFileSync(path, Buffer.from(key).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  return { key, created: true };
}
