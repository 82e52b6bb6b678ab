import { sha256 } from "@noble/hashes/sha2.js";
import { hexToBytes } from "./block.ts";

/**
 * PoOT leader schedule. Time is cut into slots of BLOCK_INTERVAL seconds from the genesis time and
 * slots into epochs. Each epoch has a weight per producer (its operational-time weight); the
 * leader of a slot is drawn with probability proportional to weight, from a seed that nobody
 * controls once the previous epoch has ended: SHA-256(last block hash of the previous epoch ‖ slot).
 * A deployment with one producer therefore leads every slot.
 */
export interface ChainTiming {
  genesisTime: number;
  slotMs: number;
  epochSlots: number;
}

export interface ProducerWeight {
  /** Ed25519 public key, hex. */
  producer: string;
  /** Operational-time weight (positive integer). */
  weight: number;
}

export function slotAt(timing: ChainTiming, timestamp: number): number {
  return Math.max(0, Math.floor((timestamp - timing.genesisTime) / timing.slotMs));
}

export function epochOfSlot(timing: ChainTiming, slot: number): number {
  return Math.floor(slot / timing.epochSlots);
}

export function slotStart(timing: ChainTiming, slot: number): number {
  return timing.genesisTime + slot * timing.slotMs;
}

/** The leader of `slot`, or null when nobody has weight. Deterministic for the same inputs. */
export function leaderOf(slot: number, seedHash: string, weights: readonly ProducerWeight[]): string | null {
  const eligible = weights
    .filter((w) => Number.isSafeInteger(w.weight) && w.weight > 0)
    .sort((a, b) => (a.producer < b.producer ? -1 : a.producer > b.producer ? 1 : 0));
  const total = eligible.reduce((sum, w) => sum + BigInt(w.weight), 0n);
  if (total === 0n) return null;
  const input = new Uint8Array(40);
  input.set(hexToBytes(seedHash), 0);
  new DataView(input.buffer).setBigUint64(32, BigInt(slot), false);
  const digest = sha256(input);
  let draw = 0n;
  for (const byte of digest) draw = (draw << 8n) | BigInt(byte);
  let ticket = draw % total;
  for (const w of eligible) {
    if (ticket < BigInt(w.weight)) return w.producer;
    ticket -= BigInt(w.weight);
  }
  return eligible.at(-1)!.producer;
}

/** How many epochs back the work credits that weigh an epoch's schedule were recorded (settled before its seed is). */
export const CREDIT_LAG_EPOCHS = 2;

/** The PoOT weight a block records: the sum of its work credits' weights. */
export function creditWeightOf(txs: readonly { type: string; weight?: number }[]): number {
  return txs.reduce((sum, tx) => sum + (tx.type === "work-credit" ? (tx.weight ?? 0) : 0), 0);
}

/**
 * Producer weights of an epoch from proven operational time: each producer weighs 1 plus the PoOT
 * weight of the work credits recorded in its own blocks CREDIT_LAG_EPOCHS epochs earlier (the
 * nodes a deployment hosts report through it), so every instance derives the same schedule from
 * the same chain, and one that hosts more proven node time leads more slots.
 */
export function pootWeights(producers: readonly string[], credits: ReadonlyMap<string, number>): ProducerWeight[] {
  return producers.map((producer) => ({ producer, weight: 1 + (credits.get(producer) ?? 0) }));
}
