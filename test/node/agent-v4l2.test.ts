import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { CaptureError, ScreenCapture } from "../../pi-agent/lib/native.ts";

// The V4L2 ioctl logic (pi-agent/src/v4l2_capture.cc) against a simulated driver behind its V4l2Io
// interface (pi-agent/src/test/fake_v4l2_io.h): no /dev/video* exists on CI machines.
interface Scenario {
  openError: string;
  format?: { fourcc: string; width: number; height: number };
  grabError?: string;
  bgrx?: Buffer;
  log: string[];
}
const support = createRequire(import.meta.url)("../../pi-agent/build/Release/lucid_test_support.node") as {
  v4l2Scenario(spec: { device: Record<string, unknown>; width: number; height: number }): Scenario;
  encodeJpeg(bgrx: Buffer, width: number, height: number, quality: number): Buffer;
};

function yuyv(width: number, height: number, y: number, u: number, v: number, padding = 0): Buffer {
  const row = width * 2 + padding;
  const out = Buffer.alloc(row * height);
  for (let r = 0; r < height; r++) for (let x = 0; x < width; x += 2) out.set([y, u, y, v], r * row + x * 2);
  return out;
}

describe("V4L2 capture (ioctl logic against a simulated driver)", () => {
  it("negotiates YUYV, maps buffers, streams, converts BT.601 exactly and tears down in order", () => {
    const run = support.v4l2Scenario({ device: { yuyv: yuyv(4, 2, 235, 128, 128) }, width: 4, height: 2 });
    expect(run.openError).toBe("");
    expect(run.format).toEqual({ fourcc: "YUYV", width: 4, height: 2 });
    expect(run.grabError).toBe("");
    expect([...run.bgrx!.subarray(0, 8)]).toEqual([255, 255, 255, 0, 255, 255, 255, 0]); // video white
    expect(run.log).toEqual([
      "open",
      "QUERYCAP",
      "S_FMT",
      "REQBUFS 4",
      "mmap",
      "mmap",
      "mmap",
      "mmap",
      "STREAMON",
      "DQBUF",
      "STREAMOFF",
      "munmap",
      "munmap",
      "munmap",
      "munmap",
      "REQBUFS 0",
      "close",
    ]);
  });

  it("converts colour and honours padded rows", () => {
    // Y=81 U=90 V=240 is BT.601 red.
    const run = support.v4l2Scenario({ device: { yuyv: yuyv(2, 2, 81, 90, 240, 6), linePadding: 6 }, width: 2, height: 2 });
    expect(run.grabError).toBe("");
    expect([...run.bgrx!.subarray(0, 4)]).toEqual([0, 0, 255, 0]);
    expect([...run.bgrx!.subarray(8, 12)]).toEqual([0, 0, 255, 0]);
  });

  it("takes the size the driver chose", () => {
    const run = support.v4l2Scenario({ device: { yuyv: yuyv(640, 480, 16, 128, 128) }, width: 1920, height: 1080 });
    expect(run.format).toEqual({ fourcc: "YUYV", width: 640, height: 480 });
    expect([...run.bgrx!.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
  });

  it("falls back to MJPEG when YUYV is not offered and decodes its frames", () => {
    const width = 64,
      height = 48;
    const picture = Buffer.alloc(width * height * 4);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) picture.set([x * 4, y * 5, 200, 0], (y * width + x) * 4);
    const jpeg = support.encodeJpeg(picture, width, height, 100);
    const run = support.v4l2Scenario({ device: { formats: ["MJPG"], yuyv: jpeg }, width, height });
    expect(run.format).toEqual({ fourcc: "MJPG", width, height });
    expect(run.grabError).toBe("");
    let worst = 0; // JPEG is lossy even at quality 100: the decoded picture is within a few levels
    for (let i = 0; i < picture.length; i++) if (i % 4 !== 3) worst = Math.max(worst, Math.abs(picture[i]! - run.bgrx![i]!));
    expect(worst).toBeLessThanOrEqual(4);
  });

  it("reports corrupt or wrongly sized MJPEG frames", () => {
    const corrupt = support.v4l2Scenario({ device: { formats: ["MJPG"], yuyv: Buffer.from("not a jpeg at all") }, width: 64, height: 48 });
    expect(corrupt.grabError).toMatch(/^\/dev\/video9: bad MJPEG frame: Not a JPEG file/);
    const small = support.encodeJpeg(Buffer.alloc(16 * 16 * 4), 16, 16, 80);
    const sized = support.v4l2Scenario({ device: { formats: ["MJPG"], yuyv: small }, width: 64, height: 48 });
    expect(sized.grabError).toMatch(/bad MJPEG frame: frame is 16x16, not the negotiated 64x48/);
  });

  it("explains missing, busy, wrong-kind and unsupported devices, and always closes", () => {
    const missing = support.v4l2Scenario({ device: { exists: false }, width: 64, height: 48 });
    expect(missing.openError).toBe("/dev/video9: cannot open: no such device (is the camera plugged in and its driver loaded?)");
    const busy = support.v4l2Scenario({ device: { busy: true }, width: 64, height: 48 });
    expect(busy.openError).toMatch(/VIDIOC_S_FMT failed: device is busy: another program is streaming from it/);
    expect(busy.log.at(-1)).toBe("close");
    const metadata = support.v4l2Scenario({ device: { caps: 0x00800000 | 0x04000000 }, width: 64, height: 48 });
    expect(metadata.openError).toMatch(/not a video capture device/);
    const noStreaming = support.v4l2Scenario({ device: { caps: 0x1 }, width: 64, height: 48 });
    expect(noStreaming.openError).toMatch(/does not support streaming I\/O/);
    const nv12 = support.v4l2Scenario({ device: { formats: ["NV12", "RGB3"] }, width: 64, height: 48 });
    expect(nv12.openError).toBe("/dev/video9: offers neither YUYV nor MJPEG (it offers: NV12, RGB3)");
    const oneBuffer = support.v4l2Scenario({ device: { grantBuffers: 1 }, width: 64, height: 48 });
    expect(oneBuffer.openError).toMatch(/granted 1 buffer\(s\); streaming needs at least 2/);
    expect(oneBuffer.log.at(-1)).toBe("close");
  });

  it("opens real devices through the addon and reports a missing one as an error value", () => {
    expect(() => ScreenCapture.openV4l2("/dev/video-missing", { width: 640, height: 480 })).toThrow(
      /\/dev\/video-missing: cannot open: no such device/,
    );
    expect(() => ScreenCapture.openV4l2("video0", { width: 640, height: 480 })).toThrow(CaptureError);
  });
});
