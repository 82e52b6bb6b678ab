import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import {
  fromBase64,
  keyShareSchema,
  parseX25519PublicKey,
  toBase64,
  unwrapKeyShare,
  wrapForPassphrase,
  wrapForPublicKey,
  type KeyShare,
} from "../../shared/recording/key-share.ts";

const dataKey = Uint8Array.from({ length: 32 }, (_, i) => i * 5 + 1);
const fast = { N: 2 ** 10, r: 8, p: 1 };
const flip = (b64: string, at = 0) => {
  const bytes = fromBase64(b64);
  bytes[at] = bytes[at]! ^ 1;
  return toBase64(bytes);
};

describe("key shares (shared/recording/key-share.ts)", () => {
  it("X25519: the recipient's secret key unwraps the data key; another key, or any altered field, fails", async () => {
    const auditor = x25519.keygen();
    const share = wrapForPublicKey(dataKey, { sessionId: "s-1", label: "Auditor A", publicKey: auditor.publicKey });
    expect(keyShareSchema.parse(JSON.parse(JSON.stringify(share)))).toEqual(share);
    expect(share.ciphertext).not.toContain(toBase64(dataKey));
    expect(await unwrapKeyShare(JSON.parse(JSON.stringify(share)), { secretKey: auditor.secretKey })).toEqual(dataKey);

    const mallory = x25519.keygen();
    await expect(unwrapKeyShare(share, { secretKey: mallory.secretKey })).rejects.toThrow(/another X25519 key/);
    // Mallory rewrites the recipient to her key: the AAD and the HKDF salt no longer match.
    const retargeted = { ...share, recipient: { ...share.recipient, publicKey: toBase64(mallory.publicKey) } } as KeyShare;
    await expect(unwrapKeyShare(retargeted, { secretKey: mallory.secretKey })).rejects.toThrow(/does not open/);
    for (const altered of [
      { ...share, sessionId: "s-2" },
      { ...share, label: "Auditor B" },
      { ...share, ciphertext: flip(share.ciphertext, 3) },
      { ...share, nonce: flip(share.nonce) },
    ]) {
      await expect(unwrapKeyShare(altered, { secretKey: auditor.secretKey })).rejects.toThrow(/does not open/);
    }
    await expect(unwrapKeyShare(share, { passphrase: "x" })).rejects.toThrow(/give the secret key/);
    await expect(unwrapKeyShare({ ...share, version: 2 }, { secretKey: auditor.secretKey })).rejects.toThrow(/not a lucid-key-share v1/);
  });

  it("passphrase: the right passphrase unwraps (default scrypt cost too); a wrong one, or altered parameters, fail", async () => {
    const share = await wrapForPassphrase(dataKey, { sessionId: "s-1", label: "Court", passphrase: "correct horse battery staple" }, fast);
    expect(share.recipient).toMatchObject({ kind: "passphrase", kdf: "scrypt", N: 1024, r: 8, p: 1 });
    expect(await unwrapKeyShare(share, { passphrase: "correct horse battery staple" })).toEqual(dataKey);
    await expect(unwrapKeyShare(share, { passphrase: "correct horse battery stapler" })).rejects.toThrow(/does not open/);
    const cheaper = { ...share, recipient: { ...share.recipient, N: 2048 } } as KeyShare;
    await expect(unwrapKeyShare(cheaper, { passphrase: "correct horse battery staple" })).rejects.toThrow(/does not open/);
    // A hostile share cannot make the recipient allocate gigabytes.
    const huge = { ...share, recipient: { ...share.recipient, N: 2 ** 20, r: 32 } } as KeyShare;
    await expect(unwrapKeyShare(huge, { passphrase: "x" })).rejects.toThrow(/too much memory/);
    await expect(unwrapKeyShare(share, { secretKey: x25519.keygen().secretKey })).rejects.toThrow(/give the passphrase/);

    const standard = await wrapForPassphrase(dataKey, { sessionId: "s-1", label: "Court", passphrase: "Ünïcödé passphrase" });
    expect(standard.recipient).toMatchObject({ N: 2 ** 15 });
    // NFKC: the same passphrase typed in another Unicode form opens it.
    expect(await unwrapKeyShare(standard, { passphrase: "Ünïcödé passphrase".normalize("NFD") })).toEqual(dataKey);
  });

  it("public keys are accepted as hex or base64 of 32 bytes, nothing else", () => {
    const { publicKey } = x25519.keygen();
    expect(parseX25519PublicKey(bytesToHex(publicKey))).toEqual(publicKey);
    expect(parseX25519PublicKey(toBase64(publicKey))).toEqual(publicKey);
    expect(parseX25519PublicKey(toBase64(publicKey).replace(/=$/, ""))).toEqual(publicKey);
    for (const bad of ["", "abc", bytesToHex(publicKey).slice(2), toBase64(new Uint8Array(31))])
      expect(() => parseX25519PublicKey(bad)).toThrow();
  });
});
