import { eq } from "drizzle-orm";
import { prefers } from "../../shared/chain/fork-choice.ts";
import { logEvent } from "../../shared/log.ts";
import { PeerClient, PeerError, type PeerBackoff, type PeerBlock, type PeerFetch } from "./peers.ts";
import type { ChainState } from "./state.ts";
import type { ImportResult, SyncReport } from "./types.ts";
import * as schema from "./schema.ts";

const PEER_TIMEOUT_MS = 5_000;

/** Which peers to ask and how to reach them (by default CHAIN_PEERS over the Worker's outbound fetch). */
export interface PeerTransport {
  peers: readonly string[];
  fetch?: PeerFetch;
}

type ImportBlocks = (blocks: PeerBlock[], now: number) => Promise<ImportResult>;

/**
 * One sync run: asks each peer for its head and, when the peer claims a heavier chain, catches up
 * with it (catchUp). `importBlocks` validates everything; a peer's claims are never trusted. A
 * peer that fails is backed off; the next run is the retry. The run's time budget
 * (CHAIN_SYNC_BUDGET_MS) counts from `now`, the start of the alarm; a peer whose chain is still
 * ahead when it runs out is reported `behind`, and the alarm comes back at once to continue.
 */
export async function syncWithPeers(
  state: ChainState,
  backoff: PeerBackoff,
  importBlocks: ImportBlocks,
  now: number,
  transport: PeerTransport,
): Promise<SyncReport[]> {
  const deadline = now + state.config.CHAIN_SYNC_BUDGET_MS;
  const reports: SyncReport[] = [];
  for (const peer of transport.peers) {
    if (!backoff.ready(peer, now)) continue;
    const client = new PeerClient(peer, PEER_TIMEOUT_MS, transport.fetch);
    try {
      const { result, rounds, behind } = await catchUp(state, client, importBlocks, deadline);
      backoff.succeeded(peer);
      if (behind) logEvent("info", "chain.sync_continues", { peer, rounds, height: state.head().header.height });
      reports.push({ peer, ok: true, rounds, behind, ...(result ? { result } : {}) });
    } catch (error) {
      if (!(error instanceof PeerError)) throw error;
      backoff.failed(peer, now, state.timing.slotMs);
      logEvent("warn", "chain.peer_unreachable", { peer, error: error.message });
      reports.push({ peer, ok: false, error: error.message });
    }
  }
  return reports;
}

/**
 * Pulls a heavier peer's chain from the fork point upwards, CHAIN_SYNC_PAGE_BLOCKS a request, and
 * imports it CHAIN_SYNC_ROUND_BLOCKS at a time: a peer far ahead is followed round after round up
 * to the head it reported. While the branch is not yet heavier than ours (a fork), pages keep
 * accumulating until it is; the budget is checked only once everything fetched was adopted, so
 * every run makes progress and a continuation starts from the new head.
 */
async function catchUp(
  state: ChainState,
  client: PeerClient,
  importBlocks: ImportBlocks,
  deadline: number,
): Promise<{ result?: ImportResult; rounds: number; behind: boolean }> {
  const { config } = state;
  const stats = await client.stats();
  if (stats.chain !== config.BLOCKCHAIN_NETWORK) throw new PeerError(`${client.baseUrl} serves chain "${stats.chain}"`);
  const tip = state.tip();
  if (!prefers({ weight: stats.weight, hash: stats.headHash }, { weight: tip.cumulativeWeight, hash: tip.block.hash }))
    return { rounds: 0, behind: false };
  const pageSize = config.CHAIN_SYNC_PAGE_BLOCKS;
  const fork = await forkPoint(state, client, Math.min(tip.block.header.height, stats.height), pageSize);
  let branch: PeerBlock[] = [];
  let fresh = 0; // blocks fetched since the last import
  let result: ImportResult | undefined;
  let rounds = 0;
  for (let from = fork + 1; from <= stats.height;) {
    if (rounds > 0 && branch.length === 0 && Date.now() >= deadline) return { result, rounds, behind: true };
    const page = await client.blocks(from, Math.min(pageSize, stats.height - from + 1));
    if (page.length === 0) break;
    branch.push(...page);
    fresh += page.length;
    from = page.at(-1)!.header.height + 1;
    if (fresh < config.CHAIN_SYNC_ROUND_BLOCKS && from <= stats.height) continue;
    result = await importBlocks(branch, Date.now());
    rounds++;
    fresh = 0;
    if (result.fault) return { result, rounds, behind: false }; // the peer served an invalid block: stop here
    if (result.adopted) branch = [];
  }
  if (fresh > 0) {
    result = await importBlocks(branch, Date.now());
    rounds++;
  }
  return { result, rounds, behind: false };
}

/** The highest height at or below `top` where the peer's block is ours too (0: genesis). */
async function forkPoint(state: ChainState, client: PeerClient, top: number, pageSize: number): Promise<number> {
  const maxDepth = state.config.CHAIN_MAX_REORG_DEPTH;
  const headHeight = state.head().header.height;
  for (let high = top; high > 0;) {
    if (headHeight - high > maxDepth) throw new PeerError(`${client.baseUrl} forked more than ${maxDepth} blocks ago`);
    const from = Math.max(1, high - pageSize + 1);
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
