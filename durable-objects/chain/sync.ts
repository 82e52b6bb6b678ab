import { eq } from "drizzle-orm";
import { prefers } from "../../shared/chain/fork-choice.ts";
import { logEvent } from "../../shared/log.ts";
import { PeerClient, PeerError, type PeerBackoff, type PeerBlock } from "./peers.ts";
import type { ChainState } from "./state.ts";
import type { ImportResult, SyncReport } from "./types.ts";
import * as schema from "./schema.ts";

/** Blocks fetched from a peer per request, and at most per sync round. */
const SYNC_PAGE = 50;
const SYNC_MAX_BLOCKS = 1000;
const PEER_TIMEOUT_MS = 5_000;

/**
 * One round of peer sync: asks each configured peer for its head and, when the peer claims a
 * heavier chain, finds the fork point from its headers, fetches the branch and imports it
 * (`importBlocks` validates everything; a peer's claims are never trusted). A peer that fails is
 * backed off; the next round is the retry.
 */
export async function syncWithPeers(
  state: ChainState,
  backoff: PeerBackoff,
  importBlocks: (blocks: PeerBlock[], now: number) => Promise<ImportResult>,
  now: number,
): Promise<SyncReport[]> {
  const { config } = state;
  const reports: SyncReport[] = [];
  for (const peer of config.CHAIN_PEERS ?? []) {
    if (!backoff.ready(peer, now)) continue;
    const client = new PeerClient(peer, PEER_TIMEOUT_MS);
    try {
      const stats = await client.stats();
      if (stats.chain !== config.BLOCKCHAIN_NETWORK) throw new PeerError(`${peer} serves chain "${stats.chain}"`);
      const tip = state.tip();
      let result: ImportResult | undefined;
      if (prefers({ weight: stats.weight, hash: stats.headHash }, { weight: tip.cumulativeWeight, hash: tip.block.hash })) {
        const fork = await forkPoint(state, client, Math.min(tip.block.header.height, stats.height));
        const branch: PeerBlock[] = [];
        for (let from = fork + 1; from <= stats.height && branch.length < SYNC_MAX_BLOCKS; ) {
          const page = await client.blocks(from, Math.min(SYNC_PAGE, stats.height - from + 1));
          if (page.length === 0) break;
          branch.push(...page);
          from = page.at(-1)!.header.height + 1;
        }
        result = await importBlocks(branch, Date.now());
      }
      backoff.succeeded(peer);
      reports.push({ peer, ok: true, ...(result ? { result } : {}) });
    } catch (error) {
      if (!(error instanceof PeerError)) throw error;
      backoff.failed(peer, now, state.timing.slotMs);
      logEvent("warn", "chain.peer_unreachable", { peer, error: error.message });
      reports.push({ peer, ok: false, error: error.message });
    }
  }
  return reports;
}

/** The highest height at or below `top` where the peer's block is ours too (0: genesis). */
async function forkPoint(state: ChainState, client: PeerClient, top: number): Promise<number> {
  const maxDepth = state.config.CHAIN_MAX_REORG_DEPTH;
  const headHeight = state.head().header.height;
  for (let high = top; high > 0; ) {
    if (headHeight - high > maxDepth) throw new PeerError(`${client.baseUrl} forked more than ${maxDepth} blocks ago`);
    const from = Math.max(1, high - SYNC_PAGE + 1);
    const headers = await client.headers(from, high - from + 1);
    for (const peerHeader of headers.reverse()) {
      const height = peerHeader.header.height;
      if (height > high) continue;
      const ours = state.db.select({ hash: schema.blocks.hash }).from(schema.blocks).where(eq(schema.blocks.height, height)).get();
      if (ours?.hash === peerHeader.hash) return height;
    }
    high = from - 1;
  }
  return 0;
}
