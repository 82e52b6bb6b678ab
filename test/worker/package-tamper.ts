// Attacks on a recording package (docs/package.md), shared by the worker, CLI and browser tests:
// each returns a copy of the package with one byte changed, or one block forged, inside a member.
// Pure code (no Node built-ins), so it runs in workerd as well as under Node.
import { ed25519 } from "@noble/curves/ed25519.js";
import { headerHash, signHeader, type SignedHeader } from "../../shared/chain/block.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { bytesSource, listTar, tarPieces, type TarEntry } from "../../shared/package/tar.ts";

/** Every check a sound package passes, in the order verifyPackage makes them (docs/package.md). */
export const PACKAGE_CHECKS = [
  "package",
  "genesis",
  "producer set",
  "chain",
  "anchor",
  "inclusion",
  "block",
  "signature",
  "tron anchor",
  "session root",
  "interim anchors",
  "proofs",
  "chunks",
];

export async function member(pkg: Uint8Array, name: string): Promise<{ offset: number; size: number }> {
  const found = (await listTar(bytesSource(pkg))).find((m) => m.name === name);
  if (!found) throw new Error(`${name} is not in the package`);
  return found;
}

/** One byte of member `name` xor 1, at `at` (default: its middle). */
export async function flipByte(pkg: Uint8Array, name: string, at?: number): Promise<Uint8Array> {
  const m = await member(pkg, name);
  const copy = pkg.slice();
  copy[m.offset + (at ?? Math.floor(m.size / 2))]! ^= 1;
  return copy;
}

/** The first hex digit after occurrence `nth` (from 0) of `text` in member `name` changed (still valid JSON). */
export async function flipHexDigit(pkg: Uint8Array, name: string, text: string, nth = 0): Promise<Uint8Array> {
  const m = await member(pkg, name);
  const body = new TextDecoder().decode(pkg.subarray(m.offset, m.offset + m.size));
  let at = body.indexOf(text);
  for (let i = 0; i < nth && at >= 0; i++) at = body.indexOf(text, at + 1);
  if (at < 0) throw new Error(`${text} is not in ${name}`);
  const copy = pkg.slice();
  let i = m.offset + at + text.length; // ASCII: byte offset = character offset
  while (i < m.offset + m.size && !/[0-9a-f]/.test(String.fromCharCode(copy[i]!))) i++;
  if (i === m.offset + m.size) throw new Error(`no hex digit after ${text} in ${name}`);
  copy[i] = copy[i] === 0x30 ? 0x31 : 0x30;
  return copy;
}

async function rebuild(pkg: Uint8Array, replace: Record<string, Uint8Array>): Promise<Uint8Array> {
  const entries: TarEntry[] = [];
  for (const m of await listTar(bytesSource(pkg))) {
    entries.push(
      m.type === "dir"
        ? { name: m.name, kind: "dir" }
        : { name: m.name, kind: "file", bytes: replace[m.name] ?? pkg.slice(m.offset, m.offset + m.size) },
    );
  }
  const pieces: Uint8Array[] = [];
  for await (const piece of tarPieces(entries, 0)) pieces.push(piece);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) (out.set(p, at), (at += p.length));
  return out;
}

const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as unknown;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/**
 * The final anchor's block re-made by a key outside the producer set: its producer field and
 * signature replaced and the header re-hashed, in the chain and in anchor/final.json. Only valid
 * when that block is the package's last header (no TRON headers above it).
 */
export async function forgeAnchorBlock(pkg: Uint8Array): Promise<Uint8Array> {
  const secret = ed25519.utils.randomSecretKey();
  const anchorBytes = await member(pkg, "anchor/final.json");
  const anchor = json(pkg.slice(anchorBytes.offset, anchorBytes.offset + anchorBytes.size)) as { block: SignedHeader; tron?: unknown };
  const height = anchor.block.header.height;
  const forged = signHeader({ ...anchor.block.header, producer: toHex(ed25519.getPublicKey(secret)) }, secret);
  if (headerHash(forged.header) !== forged.hash) throw new Error("forgery failed");
  const pageName = `chain/headers/${String(Math.floor((height - 1) / 1000) * 1000 + 1).padStart(6, "0")}.json`;
  const page = await member(pkg, pageName);
  const headers = (json(pkg.slice(page.offset, page.offset + page.size)) as SignedHeader[]).map((h) =>
    h.header.height === height ? forged : h,
  );
  if (headers.at(-1)!.header.height !== height) throw new Error("the anchor's block is not the last header");
  return rebuild(pkg, { [pageName]: encode(headers), "anchor/final.json": encode({ ...anchor, block: forged }) });
}
