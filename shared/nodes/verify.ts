import { ed25519 } from "@noble/curves/ed25519.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { refuse, type Refusal } from "../outcome.ts";
import { heartbeatMessage, type Heartbeat } from "./protocol.ts";

/** Ed25519 over the exact message bytes; malformed keys or signatures are simply "does not verify". */
export function verifySignature(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  try {
    return ed25519.verify(hexToBytes(signatureHex), message, hexToBytes(publicKeyHex));
  } catch {
    return false;
  }
}

/** Refusal when `sentAtMs` is further than `maxSkewSeconds` from the server's `nowMs`. */
export function skewRefusal(sentAtMs: number, nowMs: number, maxSkewSeconds: number): Refusal | null {
  const skewMs = sentAtMs - nowMs;
  if (Math.abs(skewMs) <= maxSkewSeconds * 1000) return null;
  return refuse("clock-skew", `The signed time is ${Math.round(skewMs / 1000)} s from the server's clock.`, {
    maxSkewSeconds,
    serverTime: new Date(nowMs).toISOString(),
  }).problem;
}

/** What a pool knows of a node when it checks a beat. */
export interface BeatGate {
  id: string;
  publicKey: string;
  lastSeq: number;
  /** The single-use challenge the next beat must sign (null: none issued yet). */
  challenge: string | null;
}

export interface BeatLimits {
  maxSkewSeconds: number;
  /** A beat's seq may be at most this far above the last accepted one. */
  seqWindow: number;
}

/**
 * Sequence window, challenge and clock (cheap, no crypto): null when the beat may proceed to its
 * signature check. The window keeps a node from burning its sequence space (a seq of 2^53−1 would
 * leave no successor); the challenge makes every beat answer the pool's previous reply.
 */
export function sequenceRefusal(node: BeatGate, beat: Heartbeat, nowMs: number, limits: BeatLimits): Refusal | null {
  if (beat.seq === node.lastSeq) {
    return refuse("heartbeat-replayed", `Heartbeat ${beat.seq} was already accepted.`, { lastSeq: node.lastSeq }).problem;
  }
  if (beat.seq < node.lastSeq) {
    return refuse("heartbeat-out-of-order", `Sequence ${beat.seq} is below the last accepted ${node.lastSeq}.`, {
      lastSeq: node.lastSeq,
    }).problem;
  }
  if (beat.seq - node.lastSeq > limits.seqWindow) {
    return refuse(
      "heartbeat-seq-out-of-window",
      `Sequence ${beat.seq} is more than ${limits.seqWindow} above the last accepted ${node.lastSeq}.`,
      {
        lastSeq: node.lastSeq,
        seqWindow: limits.seqWindow,
      },
    ).problem;
  }
  if (node.challenge === null || beat.challenge !== node.challenge) {
    return refuse("heartbeat-challenge", "The beat does not sign the pool's current challenge.", {
      challenge: node.challenge,
      lastSeq: node.lastSeq,
    }).problem;
  }
  return skewRefusal(beat.sentAt, nowMs, limits.maxSkewSeconds);
}

/**
 * Whether a heartbeat may be accepted, cheapest checks first (sequence, challenge, clock), the
 * signature last. Null means accept. Nothing here touches storage: a refusal leaves no trace.
 */
export function heartbeatRefusal(node: BeatGate, beat: Heartbeat, nowMs: number, limits: BeatLimits): Refusal | null {
  const early = sequenceRefusal(node, beat, nowMs, limits);
  if (early) return early;
  if (!verifySignature(node.publicKey, heartbeatMessage(node.id, beat), beat.signature)) {
    return refuse("invalid-signature", "The heartbeat signature does not verify with this node's key.").problem;
  }
  return null;
}
