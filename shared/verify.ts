import { sha256 } from "@noble/hashes/sha2.js";
import { z } from "zod";
import { blockHeader, headerHash, verifyHeaderSignature } from "./chain/block.ts";
import { verifyTxInclusion } from "./chain/proof.ts";
import { anchorTx } from "./chain/transactions.ts";
import { checkTronAnchor, tronAnchorProof } from "./chain/tron-anchor.ts";
import { fromHex, MerkleTree, toHex } from "./merkle/index.ts";

/**
 * Offline verification of a session's evidence bundle, with no server and no key:
 *   chunk bytes → chunk hash → session Merkle root → anchor transaction → block txRoot →
 *   block hash → producer signature (→ a trusted producer, when a trust list is given).
 * Returns every check made and, on failure, the first one that failed.
 */
const hex32 = z.string().regex(/^[0-9a-f]{64}$/);

const signedBlock = z.object({ header: blockHeader, hash: hex32, signature: z.string().regex(/^[0-9a-f]{128}$/) });
const inclusion = z.object({ txIndex: z.number().int().min(0), txCount: z.number().int().min(1), path: z.array(hex32) });
/** One rolling anchor with its proof (also what GET /api/v1/chain/anchors/{sessionId}/interim lists). */
export const interimAnchorEvidence = z.object({ tx: anchorTx, proof: inclusion, block: signedBlock });
export type InterimAnchorEvidence = z.infer<typeof interimAnchorEvidence>;

export const evidenceBundle = z.object({
  format: z.literal("lucid-evidence"),
  version: z.literal(1),
  session: z.object({ id: z.string().min(1), owner: z.string().min(1), node: z.string().min(1) }),
  chunks: z.array(z.object({ index: z.number().int().min(0), sha256: hex32, size: z.number().int().min(0).optional() })),
  manifest: z.object({ root: hex32, chunkCount: z.number().int().min(1) }),
  anchor: z.object({
    tx: anchorTx,
    proof: z.object({ txIndex: z.number().int().min(0), txCount: z.number().int().min(1), path: z.array(hex32) }),
    block: z.object({ header: blockHeader, hash: hex32, signature: z.string().regex(/^[0-9a-f]{128}$/) }),
    tron: tronAnchorProof.optional(),
  }),
  /** Rolling anchors of prefixes of the recording (absent in bundles made before they existed). */
  interimAnchors: z.array(interimAnchorEvidence).default([]),
});

export type EvidenceBundle = z.infer<typeof evidenceBundle>;

export interface VerifyOptions {
  /**
   * The encrypted chunk blob for an index. When given, every chunk's blob must be there: a missing one fails
   * (`chunk N`), unless `allowMissingChunks` — a verifier must not pass evidence it did not check.
   * Without it, only the hashes' agreement with the anchored root is checked, and the result says so.
   */
  chunkBytes?: (index: number) => Uint8Array | undefined;
  /** With `chunkBytes`: check chunks whose blob is missing by their manifest hash alone, and name them. */
  allowMissingChunks?: boolean;
  /** Fail when the bundle carries no TRON anchor (otherwise its absence is only reported). */
  requireTronAnchor?: boolean;
  /** Ed25519 public keys (hex) of producers the verifier trusts. */
  trustedProducers?: readonly string[];
}

export interface Check {
  step: string;
  ok: boolean;
  message: string;
}

export type VerifyResult = { ok: true; checks: Check[] } | { ok: false; checks: Check[]; failure: Check };

/**
 * Checks one rolling anchor on its own: an interim anchor of `sessionId`, transaction of its block
 * (inclusion proof → txRoot), the header hashing to the block hash, the producer's signature, and
 * the producer trusted when a trust list is given. Whether the chunks match its prefix root needs
 * the chunks: verifyEvidence checks that too.
 */
export async function verifyInterimAnchor(
  input: unknown,
  sessionId: string,
  options: Pick<VerifyOptions, "trustedProducers"> = {},
): Promise<{ ok: true; anchor: InterimAnchorEvidence } | { ok: false; message: string }> {
  const parsed = interimAnchorEvidence.safeParse(input);
  if (!parsed.success) return { ok: false, message: `malformed: ${parsed.error.issues[0]?.message ?? "not an anchor with a proof"}` };
  const { tx, proof, block } = parsed.data;
  if (!tx.interim || tx.sessionId !== sessionId) return { ok: false, message: "not an interim anchor of this session" };
  if (!verifyTxInclusion(tx, proof, block.header.txRoot))
    return { ok: false, message: `not transaction ${proof.txIndex} of block ${block.header.height}` };
  if (headerHash(block.header) !== block.hash) return { ok: false, message: "its block header does not hash to the block's hash" };
  if (!(await verifyHeaderSignature(block))) return { ok: false, message: "its block's producer signature does not verify" };
  if (options.trustedProducers && !options.trustedProducers.includes(block.header.producer)) {
    return { ok: false, message: `its block's producer ${block.header.producer} is not in the trusted list` };
  }
  return { ok: true, anchor: parsed.data };
}

export async function verifyEvidence(input: unknown, options: VerifyOptions = {}): Promise<VerifyResult> {
  const checks: Check[] = [];
  const record = (step: string, ok: boolean, message: string) => {
    const check = { step, ok, message };
    checks.push(check);
    return check;
  };
  const failed = (step: string, message: string): VerifyResult => {
    const failure = record(step, false, message);
    return { ok: false, checks, failure };
  };

  const parsed = evidenceBundle.safeParse(input);
  if (!parsed.success) return failed("bundle", `not a Lucid evidence bundle: ${z.prettifyError(parsed.error)}`);
  const bundle = parsed.data;
  record("bundle", true, "evidence bundle, format version 1");

  const chunks = [...bundle.chunks].sort((a, b) => a.index - b.index);
  const indices = chunks.map((c) => c.index);
  if (chunks.length !== bundle.manifest.chunkCount || indices.some((index, i) => index !== i)) {
    return failed("chunks", `expected chunks 0…${bundle.manifest.chunkCount - 1}, found [${indices.join(", ")}]`);
  }
  if (options.chunkBytes) {
    let blobs = 0;
    const hashOnly: number[] = [];
    for (const chunk of chunks) {
      const bytes = options.chunkBytes(chunk.index);
      if (!bytes) {
        if (!options.allowMissingChunks)
          return failed(`chunk ${chunk.index}`, `chunk ${chunk.index} is missing: its file was not there to hash`);
        hashOnly.push(chunk.index);
        continue;
      }
      blobs++;
      const actual = toHex(sha256(bytes));
      if (actual !== chunk.sha256) {
        return failed(
          `chunk ${chunk.index}`,
          `chunk ${chunk.index} was altered: its SHA-256 is ${actual}, the manifest says ${chunk.sha256}`,
        );
      }
    }
    const missing = hashOnly.length ? `; ${hashOnly.length} missing, checked only by hash: ${ranges(hashOnly)}` : "";
    record("chunks", true, `${chunks.length} chunk hashes, ${blobs} chunk files match them${missing}`);
  } else {
    record("chunks", true, `${chunks.length} chunk hashes (chunk files not checked)`);
  }

  const root = toHex(MerkleTree.fromData(chunks.map((c) => fromHex(c.sha256))).root());
  if (root !== bundle.manifest.root)
    return failed("session root", `the chunks' Merkle root is ${root}, the manifest says ${bundle.manifest.root}`);
  record("session root", true, `Merkle root ${root}`);

  const tx = bundle.anchor.tx;
  if (tx.interim) return failed("anchor", "the anchor is an interim root, not the session's final root");
  if (tx.sessionId !== bundle.session.id || tx.root !== root || tx.chunkCount !== chunks.length) {
    return failed("anchor", "the anchor transaction does not name this session, root and chunk count");
  }
  if (tx.owner !== bundle.session.owner || tx.node !== bundle.session.node) {
    return failed("anchor", "the anchor transaction names another owner or node");
  }
  record("anchor", true, `anchor of session ${tx.sessionId}`);

  const block = bundle.anchor.block;
  // Started first: native Ed25519 may run off this thread while the Merkle path and hash are checked.
  const signatureOk = verifyHeaderSignature(block);
  if (!verifyTxInclusion(tx, bundle.anchor.proof, block.header.txRoot)) {
    return failed("inclusion", `the anchor is not transaction ${bundle.anchor.proof.txIndex} of block ${block.header.height}`);
  }
  record("inclusion", true, `transaction ${bundle.anchor.proof.txIndex} of ${bundle.anchor.proof.txCount} in block ${block.header.height}`);

  if (headerHash(block.header) !== block.hash) return failed("block hash", "the block header does not hash to the block's hash");
  record("block hash", true, `block ${block.hash}`);

  if (!(await signatureOk)) return failed("signature", "the producer's signature over the block does not verify");
  record("signature", true, `signed by ${block.header.producer}`);

  const tron = bundle.anchor.tron;
  if (tron) {
    const problem = checkTronAnchor(block, tron);
    if (problem) return failed("tron anchor", problem);
    const anchored = tron.headers.at(-1)?.header.height ?? block.header.height;
    record(
      "tron anchor",
      true,
      `block ${anchored}${tron.headers.length ? ` (${tron.headers.length} headers above this one)` : ""} anchored on TRON ${tron.network} in tx ${tron.txid}, ` +
        `TRON block ${tron.blockNumber}, ${tron.confirmations} confirmations, ${tron.solidified ? "solidified" : "not yet solidified"} when the bundle was made`,
    );
  } else if (options.requireTronAnchor) {
    return failed("tron anchor", "the bundle carries no TRON anchor");
  } else {
    record("tron anchor", true, "no TRON anchor yet (the block's epoch is not anchored on TRON)");
  }

  // Rolling anchors: each proves the recording had at least `chunkCount` chunks, with that prefix root.
  for (const [i, interim] of bundle.interimAnchors.entries()) {
    const step = `interim anchor ${i}`;
    const itx = interim.tx;
    const checked = await verifyInterimAnchor(interim, bundle.session.id, options);
    if (!checked.ok) return failed(step, checked.message);
    if (itx.chunkCount > chunks.length) {
      return failed(
        "truncation",
        `block ${interim.block.header.height} anchors ${itx.chunkCount} chunks of this session while it recorded, the bundle has only ${chunks.length}: the recording was truncated`,
      );
    }
    const prefixRoot = toHex(MerkleTree.fromData(chunks.slice(0, itx.chunkCount).map((c) => fromHex(c.sha256))).root());
    if (prefixRoot !== itx.root)
      return failed(
        "truncation",
        `the first ${itx.chunkCount} chunks do not match the root anchored in block ${interim.block.header.height} while the session recorded`,
      );
  }
  if (bundle.interimAnchors.length) {
    record(
      "interim anchors",
      true,
      `${bundle.interimAnchors.length} rolling anchors, up to ${Math.max(...bundle.interimAnchors.map((a) => a.tx.chunkCount))} chunks, agree with the chunks`,
    );
  }

  if (options.trustedProducers) {
    if (!options.trustedProducers.includes(block.header.producer)) {
      return failed("producer", `producer ${block.header.producer} is not in the trusted list`);
    }
    record("producer", true, "producer is trusted");
  }
  return { ok: true, checks };
}

/** "0-2, 5, 7-9" for sorted indices: a long list of missing chunks stays readable. */
function ranges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}
