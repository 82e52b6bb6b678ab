import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_HEADERS } from "../../shared/chunk.ts";
import { decodeRecording } from "../../shared/recording/index.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { ChunkServer } from "./helpers/chunk-server.ts";
import { until } from "./helpers/until.ts";
import { startPainter, startXvfb, type Xvfb } from "./helpers/xvfb.ts";

const BIN = join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts");
const W = 320;
const H = 240;
let xvfb: Xvfb;
const dirs: string[] = [];

beforeAll(async () => {
  xvfb = await startXvfb(W, H);
});
afterAll(async () => {
  await xvfb?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function agent(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lucid-rec-"));
  dirs.push(dir);
  return dir;
}

describe("lucid-agent record (real Xvfb, real HTTP server, real processes)", () => {
  it("survives kill -9 mid-upload: after a restart every chunk is on the server exactly once and decodes", async () => {
    const server = new ChunkServer("node-secret");
    await server.start();
    server.responseDelayMs = 150; // keeps uploads in flight when the agent dies
    const out = tempDir();
    const painter = startPainter(xvfb.display, W, H);
    const args = ["record", "--display", xvfb.display, "--out", out, "--session", "sess-kill", "--server", server.url];
    const tuning = ["--fps", "20", "--tile", "32", "--chunk-mb", "0.3", "--concurrency", "2"];
    const env = { LUCID_NODE_TOKEN: "node-secret" };
    try {
      const first = agent([...args, ...tuning], env);
      await until("uploads in flight", () => server.session("sess-kill").size >= 2 && server.attempts > server.session("sess-kill").size, {
        detail: first.output,
      });
      first.child.kill("SIGKILL");
      expect(await first.exited).toBe(null);
      const left = readdirSync(join(out, "chunks")).filter((f) => f.endsWith(".json"));
      expect(left.length).toBeGreaterThan(0); // spooled but not yet acknowledged when it died

      const second = agent([...args, ...tuning, "--duration", "3"], env);
      // Not a condition: the painter keeps the screen changing for part of the 3 s recording.
      await new Promise((r) => setTimeout(r, 1500));
      painter.stop(); // the screen then stays still until the agent stops
      expect(await second.exited, second.output()).toBe(0);
      expect(second.output()).toMatch(/as session sess-kill from chunk [1-9]/);

      const { nextIndex } = JSON.parse(readFileSync(join(out, "session.json"), "utf8"));
      const stored = server.session("sess-kill");
      expect([...stored.keys()].sort((a, b) => a - b)).toEqual([...Array(nextIndex).keys()]);
      expect(readdirSync(join(out, "chunks"))).toEqual([]);

      const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
      let last: Uint8Array | null = null;
      for (let index = 0; index < nextIndex; index++) {
        const chunk = stored.get(index)!;
        const nonce = Buffer.from(chunk.headers[CHUNK_HEADERS.nonce.toLowerCase()] as string, "hex");
        const frames = [...decodeRecording(openChunk(chunk.body, nonce, "sess-kill", index, key))].map((f) => f.type);
        expect(frames[0]).toBe("keyframe"); // every chunk decodes on its own
        if (index === nextIndex - 1)
          for (const f of decodeRecording(openChunk(chunk.body, nonce, "sess-kill", index, key))) last = f.pixels.slice();
      }
      expect(last !== null && Buffer.from(last).equals(painter.screen)).toBe(true); // the final screen, pixel for pixel
    } finally {
      painter.stop();
      await server.stop();
    }
  }, 60_000);

  it("stops cleanly with exit 73 and a clear message when the spool quota is reached (server unreachable)", async () => {
    const out = tempDir();
    const painter = startPainter(xvfb.display, W, H);
    try {
      const run = agent([
        "record",
        "--display",
        xvfb.display,
        "--out",
        out,
        "--fps",
        "20",
        "--chunk-mb",
        "0.1",
        "--spool-quota-mb",
        "0.25",
      ]);
      expect(await run.exited, run.output()).toBe(73);
      expect(run.output()).toMatch(/spool .* is full: .* exceed the quota of 262144 bytes .*recording stopped, spooled chunks are intact/);
      const status = agent(["status", "--out", out, "--json"]);
      expect(await status.exited).toBe(0);
      const report = JSON.parse(status.output());
      expect(report.pendingChunks.length, run.output()).toBeGreaterThan(0);
      expect(report.pendingBytes).toBeLessThanOrEqual(262144);
      const png = join(out, "png");
      const decode = agent(["decode", join(out, "chunks", "0000000000.bin"), "--png", png]);
      expect(await decode.exited, decode.output()).toBe(0);
      expect(readFileSync(join(png, "frame-000001.png")).subarray(1, 4).toString()).toBe("PNG");
    } finally {
      painter.stop();
    }
  }, 60_000);

  it("`--display -` is ready before its display exists: it takes the display from stdin, or stops cleanly without one", async () => {
    const armed = (out: string) => {
      const child = spawn(process.execPath, [BIN, "record", "--display", "-", "--out", out, "--fps", "20"], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let output = "";
      child.stderr!.on("data", (d) => (output += d));
      return { child, output: () => output, exited: new Promise<number | null>((resolve) => child.on("exit", resolve)) };
    };
    const idle = armed(tempDir());
    await until("the waiting line", () => idle.output().includes("waiting for the display name on stdin"));
    idle.child.kill("SIGTERM");
    expect(await idle.exited).toBe(0);
    expect(idle.output()).toContain("stopped before a display was given");

    const out = tempDir();
    const given = armed(out);
    await until("the waiting line", () => given.output().includes("waiting for the display name on stdin"));
    given.child.stdin!.write(`${xvfb.display}\n`);
    await until("the first frame", () => given.output().includes("first frame captured"));
    expect(given.output()).toContain(`recording ${xvfb.display} (${W}x${H})`);
    given.child.kill("SIGTERM");
    expect(await given.exited, given.output()).toBe(0);
    expect(readdirSync(join(out, "chunks")).filter((f) => f.endsWith(".bin")).length).toBeGreaterThan(0);
  }, 60_000);

  it("answers bad command lines and missing displays with meaningful exit codes", async () => {
    const usage = agent(["record", "--display", xvfb.display]);
    expect(await usage.exited).toBe(64);
    expect(usage.output()).toMatch(/record needs --display \(or --device\) and --out/);
    const noCamera = agent(["record", "--device", "/dev/video-none", "--out", tempDir()]);
    expect(await noCamera.exited).toBe(69);
    expect(noCamera.output()).toMatch(/\/dev\/video-none: cannot open: no such device/);
    const noDisplay = agent(["record", "--display", ":7998", "--out", tempDir()]);
    expect(await noDisplay.exited).toBe(69);
    expect(noDisplay.output()).toMatch(/cannot open X display ":7998"/);
    const notRecording = tempDir() + "/x.bin";
    const corrupt = agent(["decode", join(import.meta.dirname, "agent-record.test.ts"), "--png", notRecording]);
    expect(await corrupt.exited).toBe(64);
    const run = agent(["run", "--state", join(tempDir(), "never-enrolled")]);
    expect(await run.exited).toBe(64);
    expect(run.output()).toMatch(/holds no enrolled node/);
    expect(existsSync(notRecording)).toBe(false);
  }, 30_000);
});
