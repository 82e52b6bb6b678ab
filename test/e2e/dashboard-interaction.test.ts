// Interaction events in the dashboard, in Chromium against a real workerd: a session recorded
// under policy `full` whose chunks carry focus, click, keys, text and clipboard events beside the
// pixels (the shared encoder, sealed as the agent seals), with its search terms sent as the agent
// sends them. A search by a window-title word finds it and opens the player at the matching
// chunk; clicking an event on the timeline seeks the player to the frame shown at that time.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { TronWeb, Trx } from "tronweb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { bgrToRgba, encodeEventRecord, RecordingEncoder, type InteractionEvent } from "../../shared/recording/index.ts";
import { ARTIFACTS, launchChromium } from "./helpers/browser.ts";
import { apiJson, untilStored, type ApiInit } from "./helpers/lucid-client.ts";
import { registerNode, syntheticFrame, uploadChunk, type RecordedFrame } from "./helpers/recording.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-interaction-"));
let base = "";
let workerd: WorkerdProcess | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;
let user: { address: string; privateKey: string };
let sessionId = "";
const WIDTH = 160;
const HEIGHT = 100;
const STEP_MS = 400;
const START_MS = Date.now() - 120_000;

/** Two chunks of four frames; events between frames (each chunk repeats the focus after its keyframe). */
function recordingWithEvents() {
  const chunks: { plain: Uint8Array; frames: RecordedFrame[]; events: { epochMs: number; event: InteractionEvent }[] }[] = [];
  let n = 0;
  const focus = [
    { type: "focus", title: "Terminal", class: "xterm" },
    { type: "focus", title: "Budget.xlsx — LibreOffice Calc", class: "libreoffice-calc" },
  ] as const;
  for (let c = 0; c < 2; c++) {
    const first = START_MS + n * STEP_MS;
    const encoder = new RecordingEncoder({ startEpochMs: first, tileSize: 32 });
    const frames: RecordedFrame[] = [];
    const events: { epochMs: number; event: InteractionEvent }[] = [];
    const event = (epochMs: number, e: InteractionEvent) => {
      encoder.addEventRecord(encodeEventRecord(epochMs - first, { kind: "interaction", event: e }));
      events.push({ epochMs, event: e });
    };
    for (let f = 0; f < 4; f++, n++) {
      const epochMs = START_MS + n * STEP_MS;
      const frame = syntheticFrame(WIDTH, HEIGHT, n);
      encoder.add(frame, epochMs);
      frames.push({ epochMs, frame });
      if (f === 0) event(epochMs, focus[c]!);
      if (c === 1 && f === 1) {
        event(epochMs + 150, { type: "click", button: 1, x: 40, y: 50 });
        event(epochMs + 200, { type: "keys", count: 42 });
        event(epochMs + 210, { type: "text", text: "quarterly forecast" });
      }
      if (c === 1 && f === 2) event(epochMs + 100, { type: "clipboard", selection: "CLIPBOARD", bytes: 2048, text: "copied cells" });
    }
    chunks.push({ plain: encoder.bytes(), frames, events });
  }
  return chunks;
}

const recording = recordingWithEvents();
const frames = recording.flatMap((c) => c.frames);
const api = <T>(path: string, init?: ApiInit) => apiJson<T>(base, path, init);

async function walletLogin(who: { address: string; privateKey: string }): Promise<{ accessToken: string }> {
  const { message, nonce } = await api<{ message: string; nonce: string }>("/auth/challenge", { body: { address: who.address } });
  return api("/auth/verify", { body: { address: who.address, nonce, signature: Trx.signMessageV2(message, who.privateKey) } });
}

beforeAll(async () => {
  const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
  user = { address: account.address.base58, privateKey: account.privateKey };
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const secrets = randomSecrets();
  const { configPath } = buildOnLoopback(work, port);
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);

  const { accessToken } = await walletLogin(user);
  const node = await registerNode(base, secrets.JWT_SECRET_KEY);
  const session = await api<{ id: string; interaction: string }>("/sessions", {
    body: { nodeId: node.nodeId, title: "Quarter close", interaction: "full" },
    token: accessToken,
  });
  expect(session.interaction).toBe("full");
  sessionId = session.id;
  await api(`/sessions/${sessionId}/start`, { method: "POST", token: accessToken });
  const res = await fetch(`${base}/api/v1/sessions/${sessionId}/key`, { headers: { Authorization: `Bearer ${node.credential}` } });
  const key = new Uint8Array(Buffer.from(((await res.json()) as { key: string }).key, "base64"));
  for (const [index, chunk] of recording.entries()) {
    await uploadChunk(base, node.credential, sessionId, index, key, chunk);
    // The chunk's search terms, as the agent sends them after the upload.
    const titles = chunk.events.flatMap((e) => (e.event.type === "focus" ? [e.event.title] : []));
    const words = chunk.events.flatMap((e) => (e.event.type === "text" ? e.event.text.split(" ") : []));
    const terms = await fetch(`${base}/api/v1/sessions/${sessionId}/chunks/${index}/terms`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${node.credential}`, "Content-Type": "application/json" },
      body: JSON.stringify({ titles, words }),
    });
    expect(terms.status).toBe(204);
  }
  await api(`/sessions/${sessionId}/stop`, { body: { chunkCount: recording.length }, token: accessToken });
  await untilStored(base, sessionId, accessToken);

  browser = await launchChromium();
  page = await browser.context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function shot(name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The canvas shows the recorded frame of `epochMs`, pixel for pixel. */
async function expectFrame(epochMs: number) {
  await page.locator(`canvas[data-frame-ms="${epochMs}"]`).waitFor({ timeout: 20_000 });
  interface Canvas2d {
    width: number;
    height: number;
    getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
  }
  const rgba = await page.locator("canvas").evaluate((node) => {
    const canvas = node as unknown as Canvas2d;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let text = "";
    for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(text);
  });
  const recorded = frames.find((f) => f.epochMs === epochMs)!;
  expect(Buffer.compare(Buffer.from(rgba, "base64"), Buffer.from(bgrToRgba(recorded.frame.pixels)))).toBe(0);
}

/** The frame a player shows at `epochMs`: the last one recorded at or before it. */
const frameAt = (epochMs: number) => frames.filter((f) => f.epochMs <= epochMs).at(-1)!.epochMs;

describe("interaction events in the dashboard", () => {
  it("signs in, and warns before creating a session that records typed text", async () => {
    await page.goto(`${base}/sessions`);
    await page.getByLabel("TRON address").fill(user.address);
    await page.getByRole("button", { name: "Get the message to sign" }).click();
    const message = await page.locator('textarea[name="message"]').inputValue();
    await page.getByLabel("Signature (hex)").fill(Trx.signMessageV2(message, user.privateKey));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Sessions" }).waitFor();

    await page.getByText("New session", { exact: true }).click();
    const form = page.getByRole("form", { name: "New session" });
    await expect(form.getByRole("radio", { name: /Metadata/ }).isChecked()).resolves.toBe(true);
    await expect(page.getByTestId("full-policy-warning").count()).resolves.toBe(0);
    await form.getByRole("radio", { name: /Full/ }).check();
    await page
      .getByTestId("full-policy-warning")
      .getByText(/passwords included/)
      .waitFor();
    await shot("interaction-01-new-session-full");
    await page.getByText("New session", { exact: true }).click();
  });

  it("finds the session by a window-title word and opens the player at that chunk", async () => {
    await page.getByRole("searchbox").fill("budget");
    await page.getByRole("button", { name: "Search" }).click();
    const hit = page.getByTestId("search-hit-chunk");
    await hit.getByText("window title (chunk 1)").waitFor();
    await expect(page.getByRole("link", { name: "Quarter close" }).count()).resolves.toBe(1);
    await shot("interaction-02-search");

    // Typed words (policy full) are found too; a word nobody typed or saw finds nothing.
    await page.getByRole("searchbox").fill("forecast");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByTestId("search-hit-chunk").getByText("typed text (chunk 1)").waitFor();
    await page.getByRole("searchbox").fill("payroll");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByText("No sessions match.").waitFor();

    await page.getByRole("searchbox").fill("budget");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByTestId("search-hit-chunk").click();
    await page.waitForURL(/\/sessions\/[0-9a-f-]+\?chunk=1$/);
    await page.getByTestId("session-interaction").getByText("full").waitFor();
    await page.getByRole("button", { name: "Load recording at chunk 1" }).click();
    await page.locator('canvas[data-state="paused"]').waitFor({ timeout: 20_000 });
    await expectFrame(recording[1]!.frames[0]!.epochMs);
  });

  it("lists the chunk's events and seeks the player to one from the timeline", async () => {
    const list = page.getByRole("region", { name: "Interaction", exact: true });
    await list.getByText("focus: Budget.xlsx — LibreOffice Calc").waitFor();
    await list.getByText("typed 42 keys").waitFor();
    await list.getByText("typed “quarterly forecast”").waitFor();
    await list.getByText(/copied 2(\.0)? KiB: “copied cells”/).waitFor();
    await shot("interaction-03-events");

    // The clipboard event sits 100 ms after chunk 1's third frame: the player shows that frame.
    const clipboard = recording[1]!.events.find((e) => e.event.type === "clipboard")!;
    const timeline = page.getByRole("group", { name: "Interaction events on the timeline" });
    await timeline.locator(`[data-epoch-ms="${clipboard.epochMs}"]`).click();
    expect(frameAt(clipboard.epochMs)).toBe(recording[1]!.frames[2]!.epochMs);
    await expectFrame(frameAt(clipboard.epochMs));

    // Then the click, from the list: the frame before it (chunk 1's second).
    const click = recording[1]!.events.find((e) => e.event.type === "click")!;
    await list.locator(`[data-epoch-ms="${click.epochMs}"]`).click();
    await expectFrame(frameAt(click.epochMs));
    await shot("interaction-04-seeked");

    // Seeking into chunk 0 opens it and adds its events (the Terminal focus).
    await page.locator(".screen").focus();
    await page.keyboard.press("Home");
    await expectFrame(frames[0]!.epochMs);
    await list.getByText("focus: Terminal").waitFor();
  });
});
