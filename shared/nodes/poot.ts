/**
 * Proof of operational time (PoOT), version 1: a pure function of a node's accepted heartbeats.
 *
 * For an epoch [start, end) and heartbeat interval I:
 * - Operational time: for each pair of consecutive accepted beats (a, b), the span [a, b] counts as
 *   up when b − a ≤ 2·I, otherwise the whole gap counts as down. Spans are clipped to the epoch,
 *   so the beats just before and after it (within 2·I) are part of the input.
 * - Hosted-session time: each up span, clipped, times the sessions the closing beat b reported.
 * - Bytes recorded: the sum of `bytesRecorded` (bytes since the previous beat) of beats inside the epoch.
 * - Work credits = ⌊operational s / 60⌋ + ⌊session s / 60⌋ + ⌊bytes / 100 MiB⌋:
 *   one credit per operational minute, per hosted session-minute, and per 100 MiB recorded.
 * - PoOT weight (the chain's leader schedule) = work credits.
 * Times are integer milliseconds; results are floored to whole seconds before credits are counted.
 */
export const POOT_VERSION = 1;
export const SECONDS_PER_UPTIME_CREDIT = 60;
export const SESSION_SECONDS_PER_CREDIT = 60;
export const BYTES_PER_CREDIT = 100 * 1024 * 1024;

export interface AcceptedBeat {
  /** When the pool accepted the beat (server clock, ms). */
  at: number;
  sessionsHosted: number;
  bytesRecorded: number;
}

export interface EpochWindow {
  startMs: number;
  endMs: number;
  intervalMs: number;
}

export interface PootResult {
  operationalSeconds: number;
  sessionSeconds: number;
  bytesRecorded: number;
  credits: number;
  weight: number;
}

export function computePoot(beats: readonly AcceptedBeat[], { startMs, endMs, intervalMs }: EpochWindow): PootResult {
  const sorted = [...beats].sort((x, y) => x.at - y.at);
  let operationalMs = 0;
  let sessionMs = 0;
  let bytesRecorded = 0;
  for (let i = 0; i < sorted.length; i++) {
    const b = sorted[i]!;
    if (b.at >= startMs && b.at < endMs) bytesRecorded += b.bytesRecorded;
    if (i === 0) continue;
    const a = sorted[i - 1]!;
    if (b.at - a.at > 2 * intervalMs) continue; // a gap: down
    const overlap = Math.max(0, Math.min(b.at, endMs) - Math.max(a.at, startMs));
    operationalMs += overlap;
    sessionMs += overlap * b.sessionsHosted;
  }
  const operationalSeconds = Math.floor(operationalMs / 1000);
  const sessionSeconds = Math.floor(sessionMs / 1000);
  const credits =
    Math.floor(operationalSeconds / SECONDS_PER_UPTIME_CREDIT) +
    Math.floor(sessionSeconds / SESSION_SECONDS_PER_CREDIT) +
    Math.floor(bytesRecorded / BYTES_PER_CREDIT);
  return { operationalSeconds, sessionSeconds, bytesRecorded, credits, weight: credits };
}

export function epochOf(ms: number, epochSeconds: number): number {
  return Math.floor(ms / (epochSeconds * 1000));
}

export function epochWindow(epoch: number, epochSeconds: number, intervalSeconds: number): EpochWindow {
  return { startMs: epoch * epochSeconds * 1000, endMs: (epoch + 1) * epochSeconds * 1000, intervalMs: intervalSeconds * 1000 };
}
