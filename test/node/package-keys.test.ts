// shared/package/keys.ts: the recipient's secret opens the data key from a package's keys/ members.
// Shares of another session, of the other kind, or malformed members are not used; a wrong secret
// (or none of the kind) is NoShareOpens, which the CLI turns into exit 3.
import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { NoShareOpens, openPackageKey, parseX25519SecretKey, passphraseFromFile } from "../../shared/package/keys.ts";
import { bytesSource, listTar, tarPieces, type TarEntry } from "../../shared/package/tar.ts";
import { toBase64, wrapForPassphrase, wrapForPublicKey } from "../../shared/recording/key-share.ts";

const dataKey = Uint8Array.from({ length: 32 }, (_, i) => i * 3 + 7);
const otherKey = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const fast = { N: 2 ** 10, r: 8, p: 1 };
const recipient = x25519.keygen();
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

async function pack(entries: TarEntry[]) {
  const pieces: Uint8Array[] = [];
  for await (const piece of tarPieces(entries, 0)) pieces.push(piece);
  const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    bytes.set(p, at);
    at += p.length;
  }
  const source = bytesSource(bytes);
  return { source, members: await listTar(source) };
}

describe("opening a package's data key from its key shares", () => {
  it("tries the shares of this session and kind until one opens, skipping other sessions and malformed members", async () => {
    const { source, members } = await pack([
      { name: "keys/", kind: "dir" },
      { name: "keys/broken.json", kind: "file", bytes: new TextEncoder().encode("{not json") },
      {
        name: "keys/foreign.json",
        kind: "file",
        bytes: json(await wrapForPassphrase(otherKey, { sessionId: "s-other", label: "x", passphrase: "the shared passphrase" }, fast)),
      },
      {
        name: "keys/a.json",
        kind: "file",
        bytes: json(await wrapForPassphrase(otherKey, { sessionId: "s-1", label: "A", passphrase: "someone else's phrase" }, fast)),
      },
      {
        name: "keys/b.json",
        kind: "file",
        bytes: json(await wrapForPassphrase(dataKey, { sessionId: "s-1", label: "B", passphrase: "the shared passphrase" }, fast)),
      },
      {
        name: "keys/c.json",
        kind: "file",
        bytes: json(wrapForPublicKey(dataKey, { sessionId: "s-1", label: "C", publicKey: recipient.publicKey })),
      },
    ]);
    expect(await openPackageKey(source, members, "s-1", { passphrase: "the shared passphrase" })).toEqual({
      key: dataKey,
      shareId: "b",
      label: "B",
    });
    expect(await openPackageKey(source, members, "s-1", { secretKey: recipient.secretKey })).toEqual({
      key: dataKey,
      shareId: "c",
      label: "C",
    });
    await expect(openPackageKey(source, members, "s-1", { passphrase: "a wrong passphrase" })).rejects.toThrow(
      new NoShareOpens("the passphrase opens none of the package's 2 passphrase shares (wrong passphrase?)"),
    );
    await expect(openPackageKey(source, members, "s-1", { secretKey: x25519.keygen().secretKey })).rejects.toBeInstanceOf(NoShareOpens);
    // The foreign session's share opens with that passphrase, but is not this package's.
    await expect(openPackageKey(source, members, "s-2", { passphrase: "the shared passphrase" })).rejects.toThrow(
      /carries no share .* for a passphrase/,
    );
  });

  it("a package without shares says so", async () => {
    const { source, members } = await pack([{ name: "keys/", kind: "dir" }]);
    await expect(openPackageKey(source, members, "s-1", { secretKey: recipient.secretKey })).rejects.toThrow(
      "the package carries no share of the data key for an X25519 key",
    );
  });

  it("reads secrets as written in files", () => {
    expect(passphraseFromFile("pass phrase \n")).toBe("pass phrase ");
    expect(passphraseFromFile("pass\r\n")).toBe("pass");
    expect(passphraseFromFile("pass\n\n")).toBe("pass\n");
    expect(parseX25519SecretKey(`${bytesToHex(recipient.secretKey)}\n`)).toEqual(recipient.secretKey);
    expect(parseX25519SecretKey(toBase64(recipient.secretKey))).toEqual(recipient.secretKey);
    expect(() => parseX25519SecretKey("abc")).toThrow(/64 hex characters/);
  });
});
