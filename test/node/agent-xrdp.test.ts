import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeRecording } from "../../shared/recording/index.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { startXrdpSession, type XrdpSession } from "./helpers/xrdp.ts";
import { putImage } from "./helpers/xvfb.ts";

const BIN = join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts");
const dir = mkdtempSync(join(tmpdir(), "lucid-xrdp-"));
let session: XrdpSession;

// Creating the session user needs root, which CI has; elsewhere this file is skipped.
describe.skipIf(process.getuid?.() !== 0)("recording a real xrdp session (xrdp + xorgxrdp + xfreerdp on loopback)", () => {
  beforeAll(async () => {
    session = await startXrdpSession(dir, { width: 800, height: 600 });
  }, 60_000);
  afterAll(async () => {
    await session?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records the session's Xorg display as root through MIT-SHM, pixel-exact", async () => {
    const out = join(dir, "spool");
    const env = { ...process.env, XAUTHORITY: session.xauthority };
    const agent = spawn(process.execPath, [BIN, "record", "--display", session.display, "--out", out, "--duration", "3", "--fps", "10"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    agent.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => agent.on("exit", resolve));

    await new Promise((r) => setTimeout(r, 1500));
    process.env.XAUTHORITY = session.xauthority; // for the test's own X client
    const red = new Uint8Array(40 * 40 * 4);
    for (let i = 0; i < red.length; i += 4) red[i + 2] = 255;
    putImage(session.display, 700, 500, 40, 40, red);

    expect(await exited, output).toBe(0);
    expect(output).toContain(`recording ${session.display} (800x600)`);
    expect(output).not.toMatch(/XShmAttach failed/); // the segment was handed to the session user's server

    const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
    const chunks = readdirSync(join(out, "chunks")).filter((f) => f.endsWith(".json")).sort();
    let last: Uint8Array | null = null;
    let first: string | null = null;
    for (const name of chunks) {
      const meta = JSON.parse(readFileSync(join(out, "chunks", name), "utf8"));
      const bytes = readFileSync(join(out, "chunks", name.replace(".json", ".bin")));
      for (const frame of decodeRecording(openChunk(bytes, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key))) {
        first ??= frame.type;
        expect([frame.width, frame.height]).toEqual([800, 600]);
        last = frame.pixels.slice();
      }
    }
    expect(first).toBe("keyframe");
    for (const [x, y] of [[700, 500], [739, 539]]) {
      const at = (y! * 800 + x!) * 3;
      expect([...last!.subarray(at, at + 3)]).toEqual([0, 0, 255]);
    }
  }, 60_000);
});
