/**
 * Interaction events (issue #20) on a real Xvfb: a titled xterm is focused, typed into and clicked,
 * and the clipboard is set with xclip, while the real `lucid-agent record` runs under each policy.
 * The spooled chunks are decrypted and searched as plain bytes: what a policy does not allow must
 * not be anywhere in them.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEvents, decodeRecording, type InteractionEvent, type InteractionPolicy } from "../../shared/recording/index.ts";
import { InputCapture, type NativeInputEvent } from "../../pi-agent/lib/native.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { chunkMetaSchema } from "../../pi-agent/lib/spool.ts";
import { until } from "./helpers/until.ts";
import { noise, ownSelectionSilently, putImage, startXvfb, type Xvfb } from "./helpers/xvfb.ts";

const BIN = join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts");
const W = 640;
const H = 480;
/** Known pixels on the root window, away from the xterm: they must decode exactly under every policy. */
const PATCH = { x: 480, y: 320, w: 128, h: 128, ...noise(128, 128, 7) };
const TYPED = "TypedSecret7 abc";
/** xdotool presses Shift for each capital, and Return ends the line. */
const PRESSES = TYPED.length + TYPED.replace(/[^A-Z]/g, "").length + 1;
const COPIED = "CopiedSecret9 payload ünïcode";

let xvfb: Xvfb;
const dirs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  xvfb = await startXvfb(W, H);
  putImage(xvfb.display, PATCH.x, PATCH.y, PATCH.w, PATCH.h, PATCH.bgrx);
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await xvfb?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const env = () => ({ ...process.env, DISPLAY: xvfb.display });
const xdotool = (...args: string[]) => execFileSync("xdotool", args, { env: env(), encoding: "utf8" }).trim();

function agent(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** Every spooled chunk of `out`, decrypted: its plain stream and its spooled terms (if any). */
function spooled(out: string): { index: number; plain: Uint8Array; terms: { titles: string[]; words: string[] } | null }[] {
  const key = Uint8Array.from(Buffer.from(readFileSync(join(out, "session.key"), "utf8").trim(), "hex"));
  const chunks = join(out, "chunks");
  return readdirSync(chunks)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const meta = chunkMetaSchema.parse(JSON.parse(readFileSync(join(chunks, f), "utf8")));
      const body = readFileSync(join(chunks, f.replace(/\.json$/, ".bin")));
      const termsFile = join(chunks, f.replace(/\.json$/, ".terms"));
      return {
        index: meta.index,
        plain: openChunk(body, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key),
        terms: existsSync(termsFile) ? JSON.parse(readFileSync(termsFile, "utf8")) : null,
      };
    });
}

const interactions = (plain: Uint8Array) =>
  decodeEvents(plain).flatMap((e) => (e.kind === "interaction" ? [{ ...e.event, epochMs: e.epochMs }] : []));

type Seen = InteractionEvent & { epochMs: number };

/**
 * Records while a user works in a titled xterm: focus, type a line, click, copy. Returns the
 * decoded chunks and the wall-clock span of each action.
 */
async function session(policy: InteractionPolicy) {
  const title = `Ledger ${policy} ${process.pid}`;
  const xterm = spawn("xterm", ["-T", title, "-geometry", "30x6+10+10", "-e", "cat"], { env: env(), stdio: "ignore" });
  children.push(xterm);
  const window = await until(`xterm "${title}"`, () => {
    try {
      return xdotool("search", "--name", title).split("\n")[0];
    } catch {
      return "";
    }
  });
  const out = mkdtempSync(join(tmpdir(), "lucid-interaction-"));
  dirs.push(out);
  const run = agent(["record", "--display", xvfb.display, "--out", out, "--interaction", policy, "--fps", "20", "--chunk-seconds", "1"]);
  await until("the first frame", () => run.output().includes("first frame"), { detail: run.output });

  const span = async (action: () => void | Promise<void>) => {
    const start = Date.now();
    await action();
    return { start, end: Date.now() };
  };
  const focus = await span(async () => {
    xdotool("windowfocus", window);
    await until("the xterm focused", () => xdotool("getwindowfocus") === window);
  });
  const typing = await span(() => void xdotool("type", "--delay", "20", TYPED));
  const enter = await span(() => void xdotool("key", "Return"));
  const click = await span(() => void xdotool("mousemove", "30", "40", "click", "1"));
  const copy = await span(() => {
    execFileSync("xclip", ["-selection", "clipboard"], { env: env(), input: COPIED, stdio: ["pipe", "ignore", "ignore"] });
  });
  const rename = await span(() => void xdotool("set_window", "--name", `${title} (edited)`, window));
  // Stop once a chunk begun after the owner's time to answer is spooled: everything before it was drained.
  await until(
    "a chunk after the actions",
    () =>
      readdirSync(join(out, "chunks"))
        .filter((f) => f.endsWith(".json"))
        .some((f) => JSON.parse(readFileSync(join(out, "chunks", f), "utf8")).captureStart > rename.end + 2500),
    { detail: run.output },
  );
  run.child.kill("SIGINT");
  expect(await run.exited, run.output()).toBe(0);
  xterm.kill("SIGTERM");
  const chunks = spooled(out);
  const events: Seen[] = chunks.flatMap((c) => interactions(c.plain));
  return { title, out, chunks, events, focus, typing, enter, click, copy, rename, output: run.output() };
}

/** Every chunk's frames decode, and the known patch is exact in each chunk's last frame. */
function expectPixelsExact(chunks: { plain: Uint8Array }[]) {
  expect(chunks.length).toBeGreaterThan(1);
  for (const { plain } of chunks) {
    let last: Uint8Array | null = null;
    for (const frame of decodeRecording(plain)) last = frame.pixels;
    expect(last).not.toBeNull();
    for (let row = 0; row < PATCH.h; row++) {
      const at = ((PATCH.y + row) * W + PATCH.x) * 3;
      const want = PATCH.bgr.subarray(row * PATCH.w * 3, (row + 1) * PATCH.w * 3);
      expect(Buffer.from(last!.subarray(at, at + PATCH.w * 3)).equals(want)).toBe(true);
    }
  }
}

const contains = (haystack: Uint8Array, needle: string) => Buffer.from(haystack).includes(Buffer.from(needle, "utf8"));
const within = (t: number, span: { start: number; end: number }, slackMs: number) => t >= span.start - 50 && t <= span.end + slackMs;

describe("interaction events in the recording (real Xvfb, xterm, xdotool, xclip)", () => {
  it("metadata: focus titles, clicks, key counts and clipboard sizes at their times, and never the text", async () => {
    const s = await session("metadata");
    const focus = s.events.find((e) => e.type === "focus" && e.title === s.title);
    expect(focus, JSON.stringify(s.events)).toMatchObject({ class: "XTerm" });
    expect(within(focus!.epochMs, s.focus, 1000)).toBe(true);

    const keys = s.events.filter((e) => e.type === "keys");
    expect(keys.reduce((n, e) => n + (e.type === "keys" ? e.count : 0), 0)).toBe(PRESSES);
    // a keys event is stamped at its second's last press, at the latest when the recorder wrote it
    for (const e of keys) expect(within(e.epochMs, { start: s.typing.start, end: s.enter.end }, 1500)).toBe(true);

    const click = s.events.find((e) => e.type === "click");
    expect(click).toMatchObject({ button: 1, x: 30, y: 40 });
    expect(within(click!.epochMs, s.click, 1000)).toBe(true);

    const clipboard = s.events.find((e) => e.type === "clipboard" && e.selection === "CLIPBOARD");
    expect(clipboard, JSON.stringify(s.events)).toMatchObject({ bytes: Buffer.byteLength(COPIED) });
    expect(clipboard).not.toHaveProperty("text");
    expect(within(clipboard!.epochMs, s.copy, 1000)).toBe(true);

    expect(s.events.some((e) => e.type === "text")).toBe(false);
    for (const { plain, terms } of s.chunks) {
      for (const secret of ["TypedSecret7", "typedsecret7", "CopiedSecret9", "ypedSecre"]) expect(contains(plain, secret)).toBe(false);
      if (terms) expect(terms.words).toEqual([]);
    }
    const renamed = s.events.find((e) => e.type === "focus" && e.title === `${s.title} (edited)`);
    expect(renamed, JSON.stringify(s.events)).toBeDefined(); // the title of the window in front changed
    expect(within(renamed!.epochMs, s.rename, 1000)).toBe(true);
    const titles = s.chunks.flatMap((c) => c.terms?.titles ?? []);
    expect(titles).toEqual(expect.arrayContaining([s.title, `${s.title} (edited)`]));
    expectPixelsExact(s.chunks);

    // `decode --events` prints the same events as JSON lines with their times.
    const withEvents = s.chunks.find((c) => interactions(c.plain).length > 0)!;
    const decode = agent(["decode", join(s.out, "chunks", `${String(withEvents.index).padStart(10, "0")}.bin`), "--events"]);
    expect(await decode.exited, decode.output()).toBe(0);
    const lines = decode
      .output()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const first = interactions(withEvents.plain)[0]!;
    expect(lines.find((l) => l.kind === "interaction")).toMatchObject({ ...first, kind: "interaction", t: expect.any(Number) });
  }, 90_000);

  it("full: the typed text and the clipboard text too, and the typed words as search terms", async () => {
    const s = await session("full");
    const typed = s.events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("");
    expect(typed).toContain(`${TYPED}\n`);
    const clipboard = s.events.find((e) => e.type === "clipboard" && e.selection === "CLIPBOARD");
    expect(clipboard).toMatchObject({ bytes: Buffer.byteLength(COPIED), text: COPIED });
    expect(s.events.find((e) => e.type === "focus" && e.title === s.title)).toBeDefined();
    expect(s.chunks.some((c) => contains(c.plain, "TypedSecret7"))).toBe(true);
    const words = s.chunks.flatMap((c) => c.terms?.words ?? []);
    expect(words).toEqual(expect.arrayContaining(["typedsecret7", "abc"]));
    expect(s.chunks.flatMap((c) => c.terms?.titles ?? [])).toContain(s.title);
    expectPixelsExact(s.chunks);
  }, 90_000);

  it("none: no interaction event and no terms at all", async () => {
    const s = await session("none");
    expect(s.events).toEqual([]);
    expect(s.output).not.toContain("interaction events");
    for (const { plain, terms } of s.chunks) {
      expect(terms).toBeNull();
      for (const secret of [s.title, "TypedSecret7", "CopiedSecret9"]) expect(contains(plain, secret)).toBe(false);
    }
    expectPixelsExact(s.chunks);
  }, 90_000);

  it("a clipboard owner that never answers is reported with size 0 after its time, and the next copy is read", async () => {
    const input = InputCapture.openX11(xvfb.display, "full");
    try {
      const seen: NativeInputEvent[] = [];
      const clipboard = () => {
        seen.push(...input.drain());
        return seen.filter((e) => e.type === "clipboard" && e.selection === "CLIPBOARD");
      };
      const release = ownSelectionSilently(xvfb.display, "CLIPBOARD");
      try {
        const [silent] = await until("the silent owner given up", () => clipboard().length === 1 && clipboard());
        expect(silent).toMatchObject({ bytes: 0, text: "" });
      } finally {
        release();
      }
      execFileSync("xclip", ["-selection", "clipboard"], { env: env(), input: "after the silence", stdio: ["pipe", "ignore", "ignore"] });
      const copies = await until("the next copy", () => clipboard().length === 2 && clipboard());
      expect(copies[1]).toMatchObject({ bytes: 17, text: "after the silence" });
    } finally {
      input.close();
    }
  }, 30_000);
});
