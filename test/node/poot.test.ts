import { describe, expect, it } from "vitest";
import { BYTES_PER_CREDIT, computePoot, epochOf, epochWindow } from "../../shared/nodes/poot.ts";

const MiB = 1024 * 1024;
const beat = (seconds: number, sessionsHosted = 0, bytesRecorded = 0) => ({ at: seconds * 1000, sessionsHosted, bytesRecorded });

describe("computePoot (PoOT v1)", () => {
  // Epoch 1 of 3600 s = [3600 s, 7200 s), heartbeat interval 60 s, so a gap over 120 s is down.
  const window = epochWindow(1, 3600, 60);
  const beats = [
    beat(3570, 0, 999 * MiB), // before the epoch: opens the first span, its bytes belong to epoch 0
    beat(3620), //               3570→3620 (50 s) up, clipped to 3600→3620: 20 s
    beat(3680, 1, 50 * MiB), //  60 s up, 1 session: 60 session-s
    beat(3740, 2, 100 * MiB), // 60 s up, 2 sessions: 120 session-s
    beat(4000), //               260 s gap > 120: down
    beat(4060), //               60 s up
    beat(4180, 3), //            120 s gap = 2 intervals: still up, 3 sessions: 360 session-s
    beat(7150, 1), //            2970 s gap: down
    beat(7210, 1, 200 * MiB), // after the epoch: 7150→7210 up, clipped to 7150→7200: 50 s, 50 session-s; bytes not this epoch's
  ];

  it("matches the hand-computed figures for an epoch with gaps", () => {
    // operational = 20 + 60 + 60 + 60 + 120 + 50 = 370 s; sessions = 60 + 120 + 360 + 50 = 590 s;
    // bytes = 50 MiB + 100 MiB; credits = ⌊370/60⌋ + ⌊590/60⌋ + ⌊150 MiB / 100 MiB⌋ = 6 + 9 + 1 = 16.
    expect(computePoot(beats, window)).toEqual({
      operationalSeconds: 370,
      sessionSeconds: 590,
      bytesRecorded: 150 * MiB,
      credits: 16,
      weight: 16,
    });
  });

  it("does not depend on the order beats are given in", () => {
    expect(computePoot([...beats].reverse(), window)).toEqual(computePoot(beats, window));
  });

  it("gives a node beating every interval the whole epoch, and nothing for a lone beat", () => {
    const steady = Array.from({ length: 62 }, (_, i) => beat(3600 - 60 + i * 60));
    expect(computePoot(steady, window)).toMatchObject({ operationalSeconds: 3600, credits: 60 });
    expect(computePoot([beat(5000)], window)).toMatchObject({ operationalSeconds: 0, credits: 0 });
    expect(computePoot([], window).credits).toBe(0);
  });

  it("counts a credit per 100 MiB recorded", () => {
    expect(computePoot([beat(3700, 0, 3 * BYTES_PER_CREDIT - 1)], window).credits).toBe(2);
  });

  it("maps times to epochs", () => {
    expect(epochOf(3_599_999, 3600)).toBe(0);
    expect(epochOf(3_600_000, 3600)).toBe(1);
  });
});
