// The cursor as events: XFixes gives its shape (sent when the displayed cursor changes) and
// XQueryPointer its position (sent when it moved), beside the cursor-free pixels. Recorded under
// Xvfb, every chunk opens with the current shape and position, and the pixels stay the screen's.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { inflateSync } from "node:zlib";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { indexRecords } from "../../functions/dashboard/app/lib/open-chunk.ts";
import { CursorSource } from "../../pi-agent/lib/cursor.ts";
import { readKey } from "../../pi-agent/lib/keyfile.ts";
import { ScreenCapture } from "../../pi-agent/lib/native.ts";
import { Recorder, type RecorderEvent } from "../../pi-agent/lib/recorder.ts";
import { SealPool } from "../../pi-agent/lib/seal-pool.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { Spool } from "../../pi-agent/lib/spool.ts";
import { decodeEvents, decodeRecording, type TimedRecordingEvent } from "../../shared/recording/index.ts";
import { until } from "./helpers/until.ts";
import {
  CursorFont,
  cursorImage,
  noise,
  putImage,
  releaseRootCursor,
  setRootCursor,
  startXvfb,
  warpPointer,
  type Xvfb,
} from "./helpers/xvfb.ts";

const W = 200;
const H = 150;
let xvfb: Xvfb;
const dir = mkdtempSync(join(tmpdir(), "lucid-cursor-"));

beforeAll(async () => {
  xvfb = await startXvfb(W, H);
});
afterAll(async () => {
  if (xvfb) releaseRootCursor(xvfb.display);
  await xvfb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Timed = ReturnType<CursorSource["drain"]>[number];
const moves = (events: Timed[]) => events.flatMap(({ event: e }) => (e.kind === "cursor-move" ? [{ x: e.x, y: e.y }] : []));
const shapes = (events: Timed[]) => events.flatMap(({ event: e }) => (e.kind === "cursor-shape" ? [e] : []));

/** The shape event as XFixes' own image of the cursor on screen: serial, size, hot spot and pixels. */
function asXFixes(display: string) {
  const image = cursorImage(display);
  return {
    kind: "cursor-shape",
    serial: image.serial,
    width: image.width,
    height: image.height,
    xhot: image.xhot,
    yhot: image.yhot,
    argb: new Uint8Array(image.argb),
  };
}

describe("cursor events from XFixes under Xvfb", () => {
  it("sends the position only when it moved, and the latest one of a tick", () => {
    const cursor = CursorSource.openX11(xvfb.display);
    try {
      expect(cursor.info()).toEqual({ available: true, note: "" });
      warpPointer(xvfb.display, 30, 40);
      const first = cursor.drain();
      expect(moves(first)).toEqual([{ x: 30, y: 40 }]);
      expect(shapes(first)).toHaveLength(1); // the shape shown when recording began
      expect(cursor.drain()).toEqual([]);
      warpPointer(xvfb.display, 100, 50);
      warpPointer(xvfb.display, 101, 52);
      expect(moves(cursor.drain())).toEqual([{ x: 101, y: 52 }]);
      expect(cursor.drain()).toEqual([]);
      expect(cursor.snapshot()).toEqual([expect.objectContaining({ kind: "cursor-shape" }), { kind: "cursor-move", x: 101, y: 52 }]);
    } finally {
      cursor.close();
    }
  });

  it("sends a shape when the displayed cursor changes, with XFixes' pixels, and only then", async () => {
    const cursor = CursorSource.openX11(xvfb.display);
    try {
      warpPointer(xvfb.display, 60, 60);
      cursor.drain();
      // Static glyphs: Xcursor themes animate some (the watch), which gives a new shape every frame.
      for (const glyph of [CursorFont.xterm, CursorFont.leftPtr, CursorFont.xterm]) {
        setRootCursor(xvfb.display, glyph);
        const seen: Timed[] = [];
        // Xvfb may show no cursor (a 1×1 transparent one) for a moment between two.
        const shape = await until("the glyph's cursor-shape event", () => {
          seen.push(...cursor.drain());
          const last = shapes(seen).at(-1);
          return last && last.width > 1 && last;
        });
        expect(shape).toEqual(asXFixes(xvfb.display));
        expect(shape.argb.some((b) => b !== 0)).toBe(true);
        expect(shapes(cursor.drain())).toEqual([]);
      }
    } finally {
      cursor.close();
    }
  });

  it("sends a shape already sent in the chunk as a reference to its serial, until a snapshot opens a chunk", async () => {
    const cursor = CursorSource.openX11(xvfb.display);
    try {
      setRootCursor(xvfb.display, CursorFont.xterm, CursorFont.leftPtr); // animated: two frames, 50 ms each
      const seen: Timed[] = [];
      await until("the animation's frames named again", () => {
        seen.push(...cursor.drain());
        return seen.filter((e) => e.event.kind === "cursor-cached").length >= 3;
      });
      const full = new Map(shapes(seen).map((s) => [s.serial, s]));
      expect(full.size).toBeLessThanOrEqual(3); // the two frames (and a blank one between cursors, on Xvfb)
      for (const [n, { event }] of seen.entries()) {
        if (event.kind !== "cursor-cached") continue;
        expect(
          shapes(seen.slice(0, n)).map((s) => s.serial),
          "a cached serial was sent before",
        ).toContain(event.serial);
      }
      // A new chunk: its snapshot carries the current shape whole, and the other frame comes whole once more.
      const [opening] = cursor.snapshot();
      expect(opening).toMatchObject({ kind: "cursor-shape" });
      const after: Timed[] = [];
      await until("the other frame, whole again", () => {
        after.push(...cursor.drain());
        return shapes(after).some((s) => s.serial !== (opening as { serial: number }).serial && s.width > 1);
      });
    } finally {
      cursor.close();
    }
  });

  it("says so in info() and records nothing where the server has no XFIXES", async () => {
    const bare = await startXvfb(64, 48, undefined, ["-extension", "XFIXES"]);
    try {
      const cursor = CursorSource.openX11(bare.display);
      expect(cursor.info()).toEqual({ available: false, note: expect.stringMatching(/no XFIXES.*not recorded/) });
      warpPointer(bare.display, 5, 5);
      expect(cursor.drain()).toEqual([]);
      expect(cursor.snapshot()).toEqual([]);
      cursor.close();
    } finally {
      await bare.stop();
    }
  });

  it("stops with one error, not an exit, when the display goes away", async () => {
    const doomed = await startXvfb(64, 48);
    const errors: string[] = [];
    const cursor = CursorSource.openX11(doomed.display, (message) => errors.push(message));
    expect(cursor.drain().length).toBeGreaterThan(0);
    await doomed.stop();
    await until("the lost connection noticed", () => (cursor.drain(), errors.length > 0));
    expect(cursor.drain()).toEqual([]);
    expect(cursor.snapshot()).toEqual([
      expect.objectContaining({ kind: "cursor-shape" }),
      expect.objectContaining({ kind: "cursor-move" }),
    ]);
    expect(errors).toEqual([expect.stringMatching(/connection was lost/)]);
    cursor.close();
  });

  it("records moves and shapes beside pixel-exact frames, each chunk opening with the current cursor", async () => {
    const spool = await Spool.open(join(dir, "spool"), { sessionId: "sess-cursor", quotaBytes: 64 << 20 });
    const pool = new SealPool(1);
    const capture = ScreenCapture.openX11(xvfb.display);
    const cursor = CursorSource.openX11(xvfb.display);
    const reference = ScreenCapture.openX11(xvfb.display, { damage: false });
    const key = new Uint8Array(32).fill(5);
    const events: RecorderEvent[] = [];
    setRootCursor(xvfb.display, CursorFont.leftPtr);
    putImage(xvfb.display, 0, 0, W, H, noise(W, H, 9).bgrx);
    warpPointer(xvfb.display, 10, 10);
    const recorder = new Recorder({
      capture,
      spool,
      pool,
      key,
      tileSize: 32,
      zstdLevel: 3,
      chunkBytes: 8 << 20,
      maxChunkMs: 400,
      fps: 20,
      eventSources: [cursor],
      onEvent: (e) => events.push(e),
    });
    const stop = new AbortController();
    const running = recorder.run(stop.signal);
    const ticks = async (n: number) => {
      const at = recorder.framesCaptured;
      await until(`${n} recorder ticks`, () => recorder.framesCaptured >= at + n);
    };
    const positions = [
      { x: 20, y: 30 },
      { x: 199, y: 149 },
      { x: 0, y: 0 },
      { x: 120, y: 77 },
    ];
    let ibeam: ReturnType<typeof asXFixes>;
    try {
      await ticks(2);
      for (const p of positions.slice(0, 2)) {
        warpPointer(xvfb.display, p.x, p.y);
        await ticks(2);
      }
      setRootCursor(xvfb.display, CursorFont.xterm);
      ibeam = await until("the I-beam on screen", () => {
        const image = asXFixes(xvfb.display);
        return image.width > 1 && image;
      });
      await ticks(3);
      for (const p of positions.slice(2)) {
        warpPointer(xvfb.display, p.x, p.y);
        await ticks(2);
      }
      await until("three chunks", () => events.filter((e) => e.kind === "chunk").length >= 3);
      await ticks(2);
    } finally {
      stop.abort();
      await running;
      capture.close();
      cursor.close();
      await pool.close();
    }
    const truth = await reference.next({ keyframe: true, tileSize: 32 });
    reference.close();

    const metas = (await spool.pending()).sort((a, b) => a.index - b.index);
    expect(metas.length).toBeGreaterThanOrEqual(3);
    const all: TimedRecordingEvent[] = [];
    let last: Uint8Array | null = null;
    for (const meta of metas) {
      const sealed = new Uint8Array(await readFile(join(dir, "spool", "chunks", `${String(meta.index).padStart(10, "0")}.bin`)));
      const plain = openChunk(sealed, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key);
      const chunkEvents = decodeEvents(plain);
      const opening = indexRecords(plain)[0]!;
      expect(opening.type).toBe("keyframe");
      // The chunk opens with the cursor as it is: its shape, then its position, at the first keyframe.
      expect(chunkEvents.slice(0, 2).map((e) => [e.kind, e.epochMs])).toEqual([
        ["cursor-shape", opening.epochMs],
        ["cursor-move", opening.epochMs],
      ]);
      all.push(...chunkEvents);
      for (const frame of decodeRecording(plain)) last = frame.pixels.slice();
    }
    // Every position moved to is there, in order; the I-beam's pixels are XFixes' own.
    const recordedMoves = all.flatMap((e) => (e.kind === "cursor-move" ? [`${e.x},${e.y}`] : []));
    let from = 0;
    for (const p of positions) {
      const at = recordedMoves.indexOf(`${p.x},${p.y}`, from);
      expect(at, `a move to ${p.x},${p.y}`).toBeGreaterThanOrEqual(from);
      from = at;
    }
    expect(all.flatMap((e) => (e.kind === "cursor-shape" ? [e] : [])).map(({ t: _t, epochMs: _e, ...shape }) => shape)).toContainEqual(
      ibeam!,
    );
    const final = all.filter((e) => e.kind === "cursor-move").at(-1);
    expect(final).toMatchObject(positions.at(-1)!);
    // The pixels are the screen's, without the cursor: X's GetImage never includes it.
    expect(truth.type).toBe("keyframe");
    expect(Buffer.compare(Buffer.from(last!), truth.type === "keyframe" ? truth.body.subarray(4) : Buffer.alloc(0))).toBe(0);
  });
});

const BIN = join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts");

/** Runs `lucid-agent ARGS` to its end: its exit code and output. */
function agent(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, output })));
}

/** R, G, B of pixel (x, y) of a PNG that lucid-agent decode wrote (8-bit RGB, filter 0, one IDAT). */
function pngPixel(file: string, x: number, y: number): number[] {
  const png = readFileSync(file);
  const width = png.readUInt32BE(16);
  const idat = png.indexOf("IDAT");
  const raw = inflateSync(png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4)));
  const o = y * (1 + width * 3) + 1 + x * 3;
  return [...raw.subarray(o, o + 3)];
}

describe("lucid-agent record and decode with the cursor", () => {
  it("records the cursor by default, not with --no-cursor, and decode --cursor draws it over the frames", async () => {
    setRootCursor(xvfb.display, CursorFont.leftPtr);
    const image = await until("the arrow on screen", () => {
      const shown = cursorImage(xvfb.display);
      return shown.width > 1 && shown;
    });
    putImage(xvfb.display, 0, 0, W, H, new Uint8Array(W * H * 4).fill(0x80));
    warpPointer(xvfb.display, 50, 60);
    const chunkEvents = async (extra: string[]) => {
      const out = mkdtempSync(join(dir, "rec-"));
      const run = await agent(["record", "--display", xvfb.display, "--out", out, "--duration", "1", "--fps", "10", ...extra]);
      expect(run.code, run.output).toBe(0);
      const bin = join(
        out,
        "chunks",
        readdirSync(join(out, "chunks")).find((f) => f.endsWith(".bin"))!,
      );
      const meta = JSON.parse(readFileSync(bin.replace(/\.bin$/, ".json"), "utf8"));
      const plain = openChunk(
        readFileSync(bin),
        Buffer.from(meta.nonce, "hex"),
        meta.sessionId,
        meta.index,
        readKey(join(out, "session.key")),
      );
      return { out, bin, events: decodeEvents(plain) };
    };
    const off = await chunkEvents(["--no-cursor"]);
    expect(off.events).toEqual([]);
    const on = await chunkEvents([]);
    expect(on.events.slice(0, 2)).toMatchObject([
      { kind: "cursor-shape", width: image.width, height: image.height, xhot: image.xhot, yhot: image.yhot },
      { kind: "cursor-move", x: 50, y: 60 },
    ]);

    const png = join(on.out, "png");
    const decoded = await agent(["decode", on.bin, "--png", png, "--cursor"]);
    expect(decoded.code, decoded.output).toBe(0);
    const bare = join(on.out, "bare");
    expect((await agent(["decode", on.bin, "--png", bare])).code).toBe(0);
    // Where the arrow has an opaque pixel, the composed frame shows it and the plain frame the screen.
    const opaque = [...Array(image.width * image.height).keys()].find((i) => image.argb[i * 4 + 3] === 255)!;
    const [x, y] = [50 - image.xhot + (opaque % image.width), 60 - image.yhot + Math.floor(opaque / image.width)];
    const first = "frame-000001.png";
    expect(pngPixel(join(bare, first), x, y)).toEqual([0x80, 0x80, 0x80]);
    expect(pngPixel(join(png, first), x, y)).toEqual([image.argb[opaque * 4 + 2], image.argb[opaque * 4 + 1], image.argb[opaque * 4]]);
  }, 120_000);
});
