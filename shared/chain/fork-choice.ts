import type { ProducerWeight } from "./schedule.ts";

/**
 * Fork choice of the Lucid chain: the heaviest chain wins, where a chain's weight is the sum,
 * over its blocks, of the producer's PoOT weight in the block's epoch (so a chain built by
 * producers with more proven operational time outweighs a longer one built by fewer). Equal
 * weights are broken by the lower head hash: every instance makes the same choice from the same
 * two heads, whatever order it saw them in.
 */
export interface ChainTip {
  weight: number;
  hash: string;
}

/** The weight a block adds: its producer's weight in the block's epoch (0 if it has none). */
export function blockWeight(producer: string, weights: readonly ProducerWeight[]): number {
  return weights.find((w) => w.producer === producer)?.weight ?? 0;
}

/** True when `candidate` should replace `current` as the head. */
export function prefers(candidate: ChainTip, current: ChainTip): boolean {
  if (candidate.weight !== current.weight) return candidate.weight > current.weight;
  return candidate.hash < current.hash;
}
