/**
 * Proof of operational time (PoOT), version 2: a pure function of what the server observed —
 * the heartbeats it accepted (each one answering its challenge) and the sessions it saw recording
 * on the node. A node's own report never earns anything; it is only compared (reportDisagreement).
 *
 * For an epoch [start, end) and heartbeat interval I:
 * - Operational time: for each pair of consecutive accepted beats (a, b), the span [a, b] counts as
 *   up when b − a ≤ 2·I, otherwise the whole gap counts as down. Spans are clipped to the epoch,
 *   so the beats just before and after it (within 2·I) are part of the input. A beat earns at most
 *   the time since the previous one, so beats faster than I prove liveness but earn nothing extra:
 *   the time covered is the same whether the node beat once per interval or ten times.
 * - Session time: each recording interval the server saw (SessionDO: from its own transition to
 *   `recording` to its transition out of it, or the close time while still recording) of a session
 *   the server assigned to the node, intersected with the node's up spans and the epoch.
 * - Bytes recorded: the ciphertext bytes the server stored for the node's sessions, by the time
 *   each chunk was committed, inside the epoch.
 * - Work credits = ⌊operational s / 60⌋ + ⌊session s / 60⌋ + ⌊bytes / 100 MiB⌋:
 *   one credit per operational minute, per hosted session-minute, and per 100 MiB recorded.
 * - PoOT weight (the chain's leader schedule) = work credits.
 * Times are integer milliseconds; results are floored to whole seconds before credits are counted.
 */
export const POOT_VERSION = 2;
export const SECONDS_PER_UPTIME_CREDIT = 60;
export const SESSION_SECONDS_PER_CREDIT = 60;
export const BYTES_PER_CREDIT = 100 * 1024 * 1024;
/** Reported and observed may always differ by this much (a chunk or two still in flight at the epoch's edge). */
export const BYTES_SLACK = 32 * 1024 * 1024;
/** …and by this many heartbeat intervals of session time (a session starting or stopping between two beats). */
export const SESSION_SLACK_INTERVALS = 2;

export interface AcceptedBeat {
  /** When the pool accepted the beat (server clock, ms). */
  at: number;
  /** The node's own figures: compared, never paid. */
  sessionsHosted: number;
  bytesRecorded: number;
}

export interface EpochWindow {
  startMs: number;
  endMs: number;
  intervalMs: number;
}

/** What the server's sessions saw for one node (durable-objects/session/usage.ts). */
export interface ObservedWork {
  /** Recording intervals of the node's sessions, ms; `end` is the close time for a session still recording. */
  recordings: readonly { start: number; end: number }[];
  /** Ciphertext bytes of the chunks stored for the node's sessions inside the epoch. */
  bytesStored: number;
}

export interface PootResult {
  operationalSeconds: number;
  sessionSeconds: number;
  bytesRecorded: number;
  credits: number;
  weight: number;
  /** What the node's beats claimed for the same epoch (health display and review only). */
  reported: { sessionSeconds: number; bytesRecorded: number };
}

type Span = [start: number, end: number];

/** The node's up spans inside the epoch, in order and disjoint. */
export function upSpans(beats: readonly AcceptedBeat[], { startMs, endMs, intervalMs }: EpochWindow): Span[] {
  const sorted = [...beats].sort((x, y) => x.at - y.at);
  const spans: Span[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!.at;
    const b = sorted[i]!.at;
    if (b - a > 2 * intervalMs) continue; // a gap: down
    const from = Math.max(a, startMs);
    const to = Math.min(b, endMs);
    if (to <= from) continue;
    const last = spans[spans.length - 1];
    if (last && last[1] >= from) last[1] = Math.max(last[1], to);
    else spans.push([from, to]);
  }
  return spans;
}

function overlapMs(spans: readonly Span[], start: number, end: number): number {
  let total = 0;
  for (const [a, b] of spans) total += Math.max(0, Math.min(b, end) - Math.max(a, start));
  return total;
}

export function computePoot(beats: readonly AcceptedBeat[], window: EpochWindow, observed: ObservedWork): PootResult {
  const spans = upSpans(beats, window);
  const operationalMs = spans.reduce((sum, [a, b]) => sum + (b - a), 0);
  const sessionMs = observed.recordings.reduce((sum, r) => sum + overlapMs(spans, r.start, r.end), 0);
  const operationalSeconds = Math.floor(operationalMs / 1000);
  const sessionSeconds = Math.floor(sessionMs / 1000);
  const bytesRecorded = observed.bytesStored;
  const credits =
    Math.floor(operationalSeconds / SECONDS_PER_UPTIME_CREDIT) +
    Math.floor(sessionSeconds / SESSION_SECONDS_PER_CREDIT) +
    Math.floor(bytesRecorded / BYTES_PER_CREDIT);
  return { operationalSeconds, sessionSeconds, bytesRecorded, credits, weight: credits, reported: reportedWork(beats, window) };
}

/** The node's claims, computed as PoOT version 1 paid them: span × sessions of the closing beat, bytes per beat. */
export function reportedWork(beats: readonly AcceptedBeat[], { startMs, endMs, intervalMs }: EpochWindow): PootResult["reported"] {
  const sorted = [...beats].sort((x, y) => x.at - y.at);
  let sessionMs = 0;
  let bytesRecorded = 0;
  for (let i = 0; i < sorted.length; i++) {
    const b = sorted[i]!;
    if (b.at >= startMs && b.at < endMs) bytesRecorded += b.bytesRecorded;
    if (i === 0) continue;
    const a = sorted[i - 1]!;
    if (b.at - a.at > 2 * intervalMs) continue;
    sessionMs += Math.max(0, Math.min(b.at, endMs) - Math.max(a.at, startMs)) * b.sessionsHosted;
  }
  return { sessionSeconds: Math.floor(sessionMs / 1000), bytesRecorded };
}

export interface Disagreement {
  figure: "sessionSeconds" | "bytesRecorded";
  reported: number;
  observed: number;
}

/**
 * Figures where the node's report and the server's observation differ by more than
 * `tolerancePercent` of the larger one and more than the fixed slack: the epoch goes to review.
 */
export function reportDisagreement(result: PootResult, intervalMs: number, tolerancePercent: number): Disagreement[] {
  const out: Disagreement[] = [];
  const check = (figure: Disagreement["figure"], reported: number, observed: number, slack: number) => {
    const diff = Math.abs(reported - observed);
    if (diff > slack && diff * 100 > tolerancePercent * Math.max(reported, observed)) out.push({ figure, reported, observed });
  };
  check("sessionSeconds", result.reported.sessionSeconds, result.sessionSeconds, (SESSION_SLACK_INTERVALS * intervalMs) / 1000);
  check("bytesRecorded", result.reported.bytesRecorded, result.bytesRecorded, BYTES_SLACK);
  return out;
}

export function epochOf(ms: number, epochSeconds: number): number {
  return Math.floor(ms / (epochSeconds * 1000));
}

export function epochWindow(epoch: number, epochSeconds: number, intervalSeconds: number): EpochWindow {
  return { startMs: epoch * epochSeconds * 1000, endMs: (epoch + 1) * epochSeconds * 1000, intervalMs: intervalSeconds * 1000 };
}
