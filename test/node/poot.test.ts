import { describe, expect, it } from "vitest";
import { BYTES_PER_CREDIT, computePoot, epochOf, epochWindow, reportDisagreement, type ObservedWork } from "../../shared/nodes/poot.ts";

const MiB = 1024 * 1024;
const beat = (seconds: number, sessionsHosted = 0, bytesRecorded = 0) => ({ at: seconds * 1000, sessionsHosted, bytesRecorded });
const recording = (from: number, to: number) => ({ start: from * 1000, end: to * 1000 });
const NOTHING: ObservedWork = { recordings: [], bytesStored: 0 };

describe("computePoot (PoOT v2)", () => {
  // Epoch 1 of 3600 s = [3600 s, 7200 s), heartbeat interval 60 s, so a gap over 120 s is down.
  const window = epochWindow(1, 3600, 60);
  const beats = [
    beat(3570, 0, 999 * MiB), // before the epoch: opens the first span
    beat(3620), //               3570→3620 (50 s) up, clipped to 3600→3620: 20 s
    beat(3680, 1, 50 * MiB), //  60 s up
    beat(3740, 2, 100 * MiB), // 60 s up
    beat(4000), //               260 s gap > 120: down
    beat(4060), //               60 s up
    beat(4180, 3), //            120 s gap = 2 intervals: still up
    beat(7150, 1), //            2970 s gap: down
    beat(7210, 1, 200 * MiB), // after the epoch: 7150→7210 up, clipped to 7150→7200: 50 s
  ];
  // What the server saw: one session recording 3650→3900 (up 3650→3740 only: 90 s), one 7100→7300 (up 7150→7200: 50 s).
  const observed: ObservedWork = { recordings: [recording(3650, 3900), recording(7100, 7300)], bytesStored: 150 * MiB };

  it("matches the hand-computed figures for an epoch with gaps, from the observation only", () => {
    // operational = 20 + 60 + 60 + 60 + 120 + 50 = 370 s; sessions = 90 + 50 = 140 s (recording ∩ up);
    // bytes = 150 MiB stored; credits = ⌊370/60⌋ + ⌊140/60⌋ + ⌊150 MiB / 100 MiB⌋ = 6 + 2 + 1 = 9.
    expect(computePoot(beats, window, observed)).toEqual({
      operationalSeconds: 370,
      sessionSeconds: 140,
      bytesRecorded: 150 * MiB,
      credits: 9,
      weight: 9,
      // The node's claims, as v1 paid them: 60 + 120 + 360 + 50 session-s, 150 MiB in the epoch.
      reported: { sessionSeconds: 590, bytesRecorded: 150 * MiB },
    });
  });

  it("pays nothing for what the node claims and the server did not see", () => {
    const liar = beats.map((b) => ({ ...b, sessionsHosted: 10_000, bytesRecorded: 1e12 }));
    const result = computePoot(liar, window, NOTHING);
    expect(result).toMatchObject({ operationalSeconds: 370, sessionSeconds: 0, bytesRecorded: 0, credits: 6 });
    expect(reportDisagreement(result, window.intervalMs, 25).map((d) => d.figure)).toEqual(["sessionSeconds", "bytesRecorded"]);
  });

  it("earns nothing extra for beats faster than the interval", () => {
    const steady = Array.from({ length: 62 }, (_, i) => beat(3600 - 60 + i * 60));
    const frantic = Array.from({ length: 62 * 200 }, (_, i) => beat(3600 - 60 + i * 0.3));
    const recordings: ObservedWork = { recordings: [recording(3600, 7200)], bytesStored: 0 };
    expect(computePoot(steady, window, recordings)).toMatchObject({ operationalSeconds: 3600, sessionSeconds: 3600, credits: 120 });
    expect(computePoot(frantic, window, recordings).credits).toBeLessThanOrEqual(120);
  });

  it("does not depend on the order beats are given in", () => {
    expect(computePoot([...beats].reverse(), window, observed)).toEqual(computePoot(beats, window, observed));
  });

  it("gives nothing for a lone beat, and counts session time only while the node was up", () => {
    expect(computePoot([beat(5000)], window, observed)).toMatchObject({ operationalSeconds: 0, sessionSeconds: 0 });
    expect(computePoot([], window, NOTHING).credits).toBe(0);
  });

  it("counts a credit per 100 MiB stored", () => {
    expect(computePoot([beat(3700)], window, { recordings: [], bytesStored: 3 * BYTES_PER_CREDIT - 1 }).credits).toBe(2);
  });

  it("tolerates small differences between report and observation", () => {
    // One session all epoch long, reported by every beat; 150 MiB reported, 140 MiB stored (within 25 %).
    const honest = Array.from({ length: 62 }, (_, i) => beat(3600 - 60 + i * 60, 1, i > 0 && i < 61 ? (150 * MiB) / 60 : 0));
    const result = computePoot(honest, window, { recordings: [recording(3590, 7300)], bytesStored: 140 * MiB });
    expect(result.sessionSeconds).toBe(3600);
    expect(reportDisagreement(result, window.intervalMs, 25)).toEqual([]);
    expect(reportDisagreement(result, window.intervalMs, 1).map((d) => d.figure)).toEqual([]); // 10 MiB is within the fixed slack
    expect(reportDisagreement({ ...result, bytesRecorded: 50 * MiB }, window.intervalMs, 25).map((d) => d.figure)).toEqual([
      "bytesRecorded",
    ]);
  });

  it("maps times to epochs", () => {
    expect(epochOf(3_599_999, 3600)).toBe(0);
    expect(epochOf(3_600_000, 3600)).toBe(1);
  });
});
