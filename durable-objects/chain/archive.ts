import { z } from "zod";
import { blockHeader, headerHash, txRoot, type SignedHeader } from "../../shared/chain/block.ts";
import { chainTx, encodeTx, type ChainTx } from "../../shared/chain/transactions.ts";
import type { ChunkStore } from "../../platform/chunk-store/types.ts";

/**
 * Archive objects of the chain's pruned blocks, in the chunk store under
 * chain/<network>/blocks/<height, 12 digits>-<hash>.json:
 *   { format: "lucid-block-archive", version: 1, header, hash, signature, txs: [canonical JSON of each transaction] }
 * Reading one back checks it against the header kept in SQLite (same hash, and the transactions
 * hash to the header's txRoot with the ids the index holds), so an altered archive is refused.
 */
const archiveObject = z.object({
  format: z.literal("lucid-block-archive"),
  version: z.literal(1),
  header: blockHeader,
  hash: z.string(),
  signature: z.string(),
  txs: z.array(z.string()),
});

export class ArchiveError extends Error {
  override name = "ArchiveError";
}

export function archiveKey(network: string, height: number, hash: string): string {
  return `chain/${network.replace(/[^A-Za-z0-9._-]/g, "_")}/blocks/${String(height).padStart(12, "0")}-${hash}.json`;
}

export async function writeArchive(store: ChunkStore, key: string, block: SignedHeader, bodies: readonly string[]): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify({ format: "lucid-block-archive", version: 1, ...block, txs: bodies }));
  await store.put(key, bytes, bytes.length);
}

export async function readArchive(store: ChunkStore, key: string, expected: SignedHeader, ids: readonly string[]): Promise<ChainTx[]> {
  const object = await store.get(key);
  if (!object) throw new ArchiveError(`archive object ${key} is missing`);
  let parsed;
  try {
    parsed = archiveObject.parse(JSON.parse(await new Response(object.body).text()));
  } catch {
    throw new ArchiveError(`archive object ${key} is not a block archive`);
  }
  if (parsed.hash !== expected.hash || headerHash(parsed.header) !== expected.hash)
    throw new ArchiveError(`archive object ${key} holds another block`);
  const txs = parsed.txs.map((body) => chainTx.parse(JSON.parse(body)));
  if (txRoot(txs) !== expected.header.txRoot || txs.some((tx, i) => encodeTx(tx).id !== ids[i]) || txs.length !== ids.length) {
    throw new ArchiveError(`archive object ${key} does not hold the transactions block ${expected.header.height} committed to`);
  }
  return txs;
}
