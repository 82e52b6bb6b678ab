import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootVm, buildVm, type ProbeStep } from "./helpers/vivid-vm.ts";

// The agent's V4L2 capture code against a real kernel driver: the `vivid` virtual device in a
// Debian kernel under qemu (TCG), probed by a static program built from pi-agent/src's capture sources.
// Its tools (qemu, busybox, cpio, kmod, g++, apt) are listed in scripts/system-tools.ts, which leaves
// this file out where they are missing.

const dir = mkdtempSync(join(tmpdir(), "lucid-vivid-"));
let steps = new Map<string, ProbeStep>();
let consoleText = "";

// vivid's default pattern is 75% colour bars: white, yellow, cyan, green, magenta, red, blue, black.
const BARS = [
  [1, 1, 1],
  [1, 1, 0],
  [0, 1, 1],
  [0, 1, 0],
  [1, 0, 1],
  [1, 0, 0],
  [0, 0, 1],
  [0, 0, 0],
];
function expectColourBars(samples: unknown) {
  const rgb = samples as number[][];
  expect(rgb).toHaveLength(8);
  rgb.forEach((pixel, bar) =>
    pixel.forEach((channel, c) => {
      // 75% of full scale is 191; the driver's limited-range YUV and our BT.601 conversion round to 188–191.
      if (BARS[bar]![c]) (expect(channel, `bar ${bar} channel ${c}`).toBeGreaterThanOrEqual(186), expect(channel).toBeLessThanOrEqual(194));
      else expect(channel, `bar ${bar} channel ${c}`).toBeLessThanOrEqual(3);
    }),
  );
}

describe("V4L2 capture against the real vivid driver (Debian kernel under qemu -accel tcg)", () => {
  beforeAll(async () => {
    const result = await bootVm(buildVm(dir));
    consoleText = result.console;
    steps = new Map(result.steps.map((s) => [s.step, s]));
    if (!steps.has("done")) throw new Error(`the probe did not finish inside the VM:\n${consoleText.slice(-3000)}`);
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the driver loads and offers YUYV among its formats", () => {
    expect(consoleText).not.toContain("PROBE-FAIL");
    expect(steps.get("formats")!.offered).toContain("YUYV");
  });

  it("negotiates YUYV at 1280x720, streams over MMAP and converts the colour bars", () => {
    const s = steps.get("yuyv-1280x720")!;
    expect(s).toMatchObject({ openError: "", fourcc: "YUYV", width: 1280, height: 720, grabbed: 3, grabError: "" });
    expectColourBars(s.rgbMiddleRow);
  });

  it("streams 1920x1080 as well", () => {
    const s = steps.get("yuyv-1920x1080")!;
    expect(s).toMatchObject({ openError: "", fourcc: "YUYV", width: 1920, height: 1080, grabbed: 2, grabError: "" });
    expectColourBars(s.rgbMiddleRow);
  });

  it("takes the size the driver picks when asked for one it does not offer", () => {
    const s = steps.get("nearest-size")!;
    expect(s).toMatchObject({ openError: "", fourcc: "YUYV", grabError: "" });
    expect([s.width, s.height]).not.toEqual([1000, 700]);
    // vivid's webcam input offers discrete sizes only.
    expect([
      [320, 180],
      [640, 360],
      [640, 480],
      [1280, 720],
      [1920, 1080],
      [3840, 2160],
    ]).toContainEqual([s.width, s.height]);
    expectColourBars(s.rgbMiddleRow);
  });

  it("a second opener while the device streams gets a clear busy error; after release it opens", () => {
    expect(steps.get("busy")).toEqual({
      step: "busy",
      firstError: "",
      secondError: "/dev/video0: VIDIOC_S_FMT failed: device is busy: another program is streaming from it",
      afterReleaseError: "",
    });
  });

  it("a missing device and a non-V4L2 node are reported as such", () => {
    expect(steps.get("missing")!.openError).toBe(
      "/dev/video7: cannot open: no such device (is the camera plugged in and its driver loaded?)",
    );
    expect(steps.get("not-v4l2")!.openError).toMatch(/^\/dev\/null: VIDIOC_QUERYCAP failed \(not a V4L2 device\?\)/);
  });
});
