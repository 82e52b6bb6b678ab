// The demo's wallets and keys: created once per checkout in the git-ignored .wrangler/demo/, so every
// local install has its own (a checked-in key would make every demo admin the same account).
import { ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { addressFromPrivateKey } from "../../shared/tron/message-signature.ts";

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);

const IdentitiesSchema = z.object({
  version: z.literal(1),
  /** secp256k1 keys of the demo's TRON wallets */
  wallets: z.object({ admin: hex32, operator: hex32, user: hex32 }),
  /** the demo node's Ed25519 key */
  nodeKey: hex32,
  /** the admin's TOTP secret once enrolled (base32), so later starts can log in again */
  adminTotpSecret: z.string().optional(),
});
export type Identities = z.infer<typeof IdentitiesSchema>;
export type WalletName = keyof Identities["wallets"];

export interface Wallet {
  key: Uint8Array;
  address: string;
}

export function walletOf(identities: Identities, name: WalletName): Wallet {
  const key = hexToBytes(identities.wallets[name]);
  return { key, address: addressFromPrivateKey(key) };
}

export function nodeKeyOf(identities: Identities): { secretKey: Uint8Array; publicKey: string } {
  const secretKey = hexToBytes(identities.nodeKey);
  return { secretKey, publicKey: bytesToHex(ed25519.getPublicKey(secretKey)) };
}

export class IdentityStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  loadOrCreate(): Identities {
    if (existsSync(this.path)) {
      const parsed = IdentitiesSchema.safeParse(JSON.parse(readFileSync(this.path, "utf8")));
      if (!parsed.success)
        throw new Error(`${this.path} is not a demo identity file (${parsed.error.issues[0]?.message}); delete it to start over`);
      return parsed.data;
    }
    const wallet = () => bytesToHex(secp256k1.utils.randomSecretKey());
    const identities: Identities = {
      version: 1,
      wallets: { admin: wallet(), operator: wallet(), user: wallet() },
      nodeKey: bytesToHex(ed25519.utils.randomSecretKey()),
    };
    this.save(identities);
    return identities;
  }

  save(identities: Identities): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileSync(this.path, `${JSON.stringify(identities, null, 2)}\n`, { mode: 0o600 });
    // `mode` applies only when the file is created: keep an older file private too.
    chmodSync(this.path, 0o600);
  }
}
