import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { headerHash, producerSetRoot, verifyHeaderSignature, type SignedHeader } from "../chain/block.ts";
import { verifyTxInclusion } from "../chain/proof.ts";
import { checkTronAnchor } from "../chain/tron-anchor.ts";
import { fromHex, hashLeaf, MerkleTree, toHex, verifyInclusion } from "../merkle/index.ts";
import {
  chunkPath,
  chunkProofsFile,
  finalAnchorFile,
  genesisFile,
  headerPage,
  interimAnchorsFile,
  packageInfo,
  PATHS,
  producerHistory,
  type PackageInfo,
} from "./format.ts";
import { listTar, TarError, type ByteSource, type TarMember } from "./tar.ts";

/**
 * Offline verification of a recording package (docs/package.md), with nothing but the package and,
 * ideally, the chain's genesis hash obtained from the deployment (the trust root):
 *
 *   genesis hash (pinned) → producer set (committed by genesis) → every block from genesis to the
 *   anchors (hash, parent link, signature, producer in the set) → the final anchor's block and its
 *   inclusion proof → the anchor transaction → session Merkle root → each chunk's proof and bytes;
 *   the TRON anchor transaction's bytes and memo; the rolling anchors against the chunk prefixes.
 *
 * Pure and runtime-neutral (Node ≥ 20, browsers, workerd). Reads the package by offset, one member at
 * a time, so a recording of any length is never held whole. Returns every check and the first broken one.
 */
export interface Check {
  step: string;
  ok: boolean;
  message: string;
}

export type PackageResult =
  | { ok: true; checks: Check[]; genesisHash: string; info: PackageInfo }
  | { ok: false; checks: Check[]; failure: Check; genesisHash?: string };

export interface PackageVerifyOptions {
  /** The trusted genesis hash (hex). Without it the result says the trust root was not pinned. */
  genesis?: string;
  /** SHA-256 of a chunk's bytes (hex); defaults to WebCrypto, else @noble/hashes. */
  hashChunk?: (bytes: Uint8Array) => Promise<string> | string;
  /**
   * SHA-256 (hex) of the package's bytes [offset, offset + size), read and hashed piece by piece by the
   * caller (a file reader reusing one buffer): preferred over `hashChunk` when given.
   */
  hashRange?: (offset: number, size: number) => Promise<string> | string;
  /** Told of each check as it is made (for a live display). */
  onCheck?: (check: Check) => void;
}

class Broken extends Error {
  readonly step: string;
  constructor(step: string, message: string) {
    super(message);
    this.step = step;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export async function defaultHashChunk(bytes: Uint8Array): Promise<string> {
  const subtle = typeof crypto !== "undefined" ? crypto.subtle : undefined;
  if (subtle) return toHex(new Uint8Array(await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
  return toHex(sha256(bytes));
}

export async function verifyPackage(source: ByteSource, options: PackageVerifyOptions = {}): Promise<PackageResult> {
  const checks: Check[] = [];
  const record = (step: string, ok: boolean, message: string): Check => {
    const check = { step, ok, message };
    checks.push(check);
    options.onCheck?.(check);
    return check;
  };
  let genesisHash: string | undefined;
  try {
    const result = await run(
      source,
      options,
      (step, message) => record(step, true, message),
      (hash) => (genesisHash = hash),
    );
    return { ok: true, checks, genesisHash: result.genesisHash, info: result.info };
  } catch (error) {
    const failure =
      error instanceof Broken
        ? record(error.step, false, error.message)
        : record("package", false, `unreadable: ${(error as Error).message}`);
    return { ok: false, checks, failure, ...(genesisHash ? { genesisHash } : {}) };
  }
}

async function run(
  source: ByteSource,
  options: PackageVerifyOptions,
  pass: (step: string, message: string) => void,
  sawGenesis: (hash: string) => void,
): Promise<{ genesisHash: string; info: PackageInfo }> {
  // ---- the archive and its members --------------------------------------------------------
  let members: TarMember[];
  try {
    members = await listTar(source);
  } catch (error) {
    throw new Broken("package", error instanceof TarError ? `not a readable package: ${error.message}` : String(error));
  }
  const byName = new Map(members.map((m) => [m.name, m]));
  const read = async <T>(step: string, name: string, schema: z.ZodType<T>): Promise<T> => {
    const member = byName.get(name);
    if (!member || member.type !== "file") throw new Broken(step, `${name} is missing from the package`);
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(await source.read(member.offset, member.size)));
    } catch {
      throw new Broken(step, `${name} is not valid JSON`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new Broken(step, `${name} is malformed: ${z.prettifyError(parsed.error).split("\n")[0]}`);
    return parsed.data;
  };

  const info = await read("package", PATHS.info, packageInfo);
  const manifest = info.manifest;
  if (manifest.sessionId !== info.session.id) throw new Broken("package", "the manifest belongs to another session");
  pass(
    "package",
    `${info.format}/${info.version} of session ${info.session.id}, ${manifest.chunks.length} chunks, ${members.length} members`,
  );

  // ---- trust root: genesis and the producer set it commits to -------------------------------
  const genesis = await read("genesis", PATHS.genesis, genesisFile);
  const hash = headerHash(genesis.header);
  if (hash !== genesis.hash) throw new Broken("genesis", `the genesis header hashes to ${hash}, not ${genesis.hash}`);
  if (genesis.header.height !== 0 || genesis.header.producer !== "genesis")
    throw new Broken("genesis", "the genesis header is not a genesis block");
  sawGenesis(hash);
  if (options.genesis !== undefined && options.genesis.toLowerCase() !== hash) {
    throw new Broken(
      "genesis",
      `the package's chain starts at genesis ${hash}, not the trusted ${options.genesis.toLowerCase()}: another deployment's chain`,
    );
  }
  if (producerSetRoot(genesis.producerSet) !== genesis.header.txRoot || genesis.header.txCount !== 1) {
    throw new Broken("producer set", "the producer set is not the one the genesis block commits to");
  }
  pass(
    "genesis",
    options.genesis
      ? `genesis ${hash} is the trusted one`
      : `genesis ${hash} (not pinned: compare it with the deployment's, or pass --genesis)`,
  );

  const history = await read("producer set", PATHS.producers, producerHistory);
  const first = history[0]!;
  if (history.length !== 1 || first.fromHeight !== 0 || first.producers.join() !== genesis.producerSet.producers.join()) {
    throw new Broken("producer set", "the producer-set history does not start with, and keep, the set committed at genesis");
  }
  const producers = new Set(first.producers);
  pass("producer set", `${producers.size} producer${producers.size === 1 ? "" : "s"} committed at genesis: ${[...producers].join(", ")}`);

  // ---- the chain from genesis ---------------------------------------------------------------
  const chain: SignedHeader[] = [{ header: genesis.header, hash: genesis.hash, signature: "" }];
  const pages = members.filter((m) => m.name.startsWith(PATHS.headersDir) && m.type === "file").sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const page of pages) {
    for (const block of await read("chain", page.name, headerPage)) {
      const parent = chain.at(-1)!;
      const h = block.header;
      const step = `block ${h.height}`;
      if (h.height !== parent.header.height + 1 || h.previousHash !== parent.hash)
        throw new Broken("chain", `block ${h.height} does not follow block ${parent.header.height}`);
      if (h.chain !== genesis.header.chain)
        throw new Broken("chain", `block ${h.height} names chain "${h.chain}", genesis "${genesis.header.chain}"`);
      if (headerHash(h) !== block.hash) throw new Broken("chain", `block ${h.height}'s header does not hash to ${block.hash}`);
      if (!producers.has(h.producer))
        throw new Broken("producer", `${step} was produced by ${h.producer}, a key outside the producer set from genesis`);
      if (!(await verifyHeaderSignature(block))) throw new Broken("signature", `${step}'s producer signature does not verify`);
      chain.push(block);
    }
  }
  const top = chain.at(-1)!;
  pass("chain", `${chain.length - 1} blocks from genesis to block ${top.header.height}, each signed by a producer of the set`);
  const onChain = (block: SignedHeader, what: string) => {
    const stored = chain[block.header.height];
    if (!stored || stored.hash !== block.hash || headerHash(block.header) !== block.hash) {
      throw new Broken("block", `${what}'s block ${block.header.height} is not the chain's block at that height`);
    }
  };

  // ---- the final anchor ---------------------------------------------------------------------
  const anchor = await read("anchor", PATHS.finalAnchor, finalAnchorFile);
  const tx = anchor.tx;
  if (tx.interim) throw new Broken("anchor", "the anchor is an interim root, not the session's final root");
  if (tx.sessionId !== info.session.id || tx.root !== manifest.root || tx.chunkCount !== manifest.treeSize) {
    throw new Broken("anchor", "the anchor transaction does not name this session, its root and chunk count");
  }
  if (tx.owner !== info.session.owner || tx.node !== info.session.node)
    throw new Broken("anchor", "the anchor transaction names another owner or node");
  pass("anchor", `final anchor of session ${tx.sessionId}: root ${tx.root}, ${tx.chunkCount} chunks`);
  if (!verifyTxInclusion(tx, anchor.proof, anchor.block.header.txRoot)) {
    throw new Broken("inclusion", `the anchor is not transaction ${anchor.proof.txIndex} of block ${anchor.block.header.height}`);
  }
  pass("inclusion", `transaction ${anchor.proof.txIndex} of ${anchor.proof.txCount} in block ${anchor.block.header.height}`);
  onChain(anchor.block, "the anchor");
  pass("block", `block ${anchor.block.header.height} (${anchor.block.hash}) is on the chain from genesis`);
  pass("signature", `block ${anchor.block.header.height} signed by ${anchor.block.header.producer}, a producer of the set`);

  if (anchor.tron) {
    const problem = checkTronAnchor(anchor.block, anchor.tron);
    if (problem) throw new Broken("tron anchor", problem);
    const anchored = anchor.tron.headers.at(-1) ?? anchor.block;
    onChain(anchored, "the TRON anchor");
    const t = anchor.tron;
    pass(
      "tron anchor",
      `block ${anchored.header.height} named in TRON ${t.network} tx ${t.txid} (bytes hash to the txid, memo names the block), TRON block ` +
        `${t.blockNumber}, ${t.confirmations} confirmations, ${t.solidified ? "solidified" : "not yet solidified"} when packed`,
    );
  } else {
    pass("tron anchor", "no TRON anchor yet (the block's epoch was not anchored on TRON when packed)");
  }

  // ---- session root, proofs and chunks ------------------------------------------------------
  const chunks = [...manifest.chunks].sort((a, b) => a.index - b.index);
  if (chunks.length !== manifest.treeSize || chunks.some((c, i) => c.index !== i)) {
    throw new Broken(
      "session root",
      `the manifest lists chunks [${chunks.map((c) => c.index).join(", ")}], expected 0…${manifest.treeSize - 1}`,
    );
  }
  const root = toHex(MerkleTree.fromData(chunks.map((c) => fromHex(c.sha256))).root());
  if (root !== manifest.root) throw new Broken("session root", `the chunks' Merkle root is ${root}, the anchored root is ${manifest.root}`);
  pass("session root", `Merkle root ${root} over ${chunks.length} chunk hashes`);

  const interim = await read("interim anchors", PATHS.interimAnchors, interimAnchorsFile);
  for (const [i, a] of interim.entries()) {
    const step = `interim anchor ${i}`;
    if (!a.tx.interim || a.tx.sessionId !== info.session.id) throw new Broken(step, "not an interim anchor of this session");
    if (!verifyTxInclusion(a.tx, a.proof, a.block.header.txRoot))
      throw new Broken(step, `not transaction ${a.proof.txIndex} of block ${a.block.header.height}`);
    try {
      onChain(a.block, step);
    } catch (error) {
      throw new Broken(step, (error as Error).message);
    }
    if (a.tx.chunkCount > chunks.length) {
      throw new Broken(
        "truncation",
        `block ${a.block.header.height} anchored ${a.tx.chunkCount} chunks while recording; the package has ${chunks.length}`,
      );
    }
    const prefix = toHex(MerkleTree.fromData(chunks.slice(0, a.tx.chunkCount).map((c) => fromHex(c.sha256))).root());
    if (prefix !== a.tx.root)
      throw new Broken(
        "truncation",
        `the first ${a.tx.chunkCount} chunks do not match the root anchored in block ${a.block.header.height}`,
      );
  }
  pass("interim anchors", interim.length ? `${interim.length} rolling anchors agree with the chunk prefixes` : "none recorded");

  const proofs = await read("proofs", PATHS.proofs, chunkProofsFile);
  const rootBytes = fromHex(root);
  for (const chunk of chunks) {
    const proof = proofs[chunk.index];
    const ok =
      proof?.index === chunk.index &&
      proof.treeSize === manifest.treeSize &&
      verifyInclusion(hashLeaf(fromHex(chunk.sha256)), chunk.index, proof.treeSize, proof.path.map(fromHex), rootBytes);
    if (!ok) throw new Broken(`proof ${chunk.index}`, `chunk ${chunk.index}'s inclusion proof does not lead to the session root`);
  }
  pass("proofs", `${chunks.length} inclusion proofs lead to the session root`);

  const hashChunk = options.hashChunk ?? defaultHashChunk;
  let bytes = 0;
  for (const chunk of chunks) {
    const member = byName.get(chunkPath(chunk.index));
    if (!member || member.type !== "file") throw new Broken(`chunk ${chunk.index}`, `chunk ${chunk.index} is missing from the package`);
    if (member.size !== chunk.size)
      throw new Broken(`chunk ${chunk.index}`, `chunk ${chunk.index} has ${member.size} bytes, the manifest says ${chunk.size}`);
    const actual = options.hashRange
      ? await options.hashRange(member.offset, member.size)
      : await hashChunk(await source.read(member.offset, member.size));
    if (actual !== chunk.sha256)
      throw new Broken(
        `chunk ${chunk.index}`,
        `chunk ${chunk.index} was altered: its SHA-256 is ${actual}, the manifest says ${chunk.sha256}`,
      );
    bytes += member.size;
  }
  pass("chunks", `${chunks.length} chunks (${bytes} bytes) match their hashes`);
  return { genesisHash: hash, info };
}
