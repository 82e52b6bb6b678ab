// The dashboard in a real browser against a real workerd (the self-hosted config, which serves
// the built dashboard from its disk service): log in with a pasted TRON signature and TOTP, open
// a session, play its recording and compare canvas pixels with the recorded frames exactly.
// Screenshots land in test-artifacts/dashboard/ (git-ignored).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { sign } from "hono/jwt";
import { TronWeb, Trx } from "tronweb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { bgrToRgba } from "../../shared/recording/index.ts";
import { totpCode } from "../../shared/totp.ts";
import { ARTIFACTS, launchChromium } from "./helpers/browser.ts";
import { makeRecording, registerNode, uploadChunk } from "./helpers/recording.ts";
import { until } from "../node/helpers/until.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";
import { apiJson, untilStored, type ApiInit } from "./helpers/lucid-client.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-dashboard-"));
let base = "";
let workerd: WorkerdProcess | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;
let admin: { address: string; privateKey: string; totpSecret: string; recoveryCodes: string[] };
let sessionId = "";
let nodeId = "";
const WIDTH = 160;
const HEIGHT = 100;
const recording = makeRecording({ width: WIDTH, height: HEIGHT, chunks: 2, framesPerChunk: 4, startMs: Date.now() - 120_000, stepMs: 400 });
const frames = recording.flatMap((c) => c.frames);

const api = <T>(path: string, init?: ApiInit) => apiJson<T>(base, path, init);

async function walletLogin(totp?: string, who: { address: string; privateKey: string } = admin): Promise<{ accessToken: string }> {
  const { message, nonce } = await api<{ message: string; nonce: string }>("/auth/challenge", { body: { address: who.address } });
  const signature = Trx.signMessageV2(message, who.privateKey);
  return api("/auth/verify", { body: { address: who.address, nonce, signature, ...(totp ? { totpCode: totp } : {}) } });
}

async function newAccount(): Promise<{ address: string; privateKey: string }> {
  const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
  return { address: account.address.base58, privateKey: account.privateKey };
}

/** The admin's access token from the dashboard tab it signed in with (TOTP codes are single-use). */
async function adminToken(): Promise<string> {
  const stored = await page.evaluate(() => sessionStorage.getItem("lucid.dashboard.tokens"));
  return (JSON.parse(stored!) as { accessToken: string }).accessToken;
}

const now = () => Math.floor(Date.now() / 1000);
let secrets: ReturnType<typeof randomSecrets>;

beforeAll(async () => {
  const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
  admin = { address: account.address.base58, privateKey: account.privateKey, totpSecret: "", recoveryCodes: [] };
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  secrets = randomSecrets();
  const { configPath } = buildOnLoopback(work, port, {
    // The development outbox keeps magic-link mail where the test can read it (no relay here).
    vars: { BOOTSTRAP_SUPER_ADMIN_ADDRESS: admin.address, MAIL_DEV_OUTBOX: "true" },
  });
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);

  // The bootstrap SUPER_ADMIN enrols TOTP (confirming with the previous step's code, so the
  // current and next steps stay free for the browser login and later actions).
  const first = await walletLogin();
  const enrolment = await api<{ secret: string }>("/auth/totp/enrol", { body: {}, token: first.accessToken });
  admin.totpSecret = enrolment.secret;
  const confirmed = await api<{ recoveryCodes: string[] }>("/auth/totp/confirm", {
    body: { code: totpCode(enrolment.secret, now() - 30) },
    token: first.accessToken,
  });
  admin.recoveryCodes = confirmed.recoveryCodes;

  // A session recorded "on a node": its data key seals the chunks as the agent does.
  const node = await registerNode(base, secrets.JWT_SECRET_KEY);
  nodeId = node.nodeId;
  const credential = node.credential;
  const session = await api<{ id: string }>("/sessions", {
    body: { nodeId, title: "Dashboard playback", tags: ["e2e"] },
    token: first.accessToken,
  });
  sessionId = session.id;
  await api(`/sessions/${sessionId}/start`, { method: "POST", token: first.accessToken });
  const res = await fetch(`${base}/api/v1/sessions/${sessionId}/key`, { headers: { Authorization: `Bearer ${credential}` } });
  const key = new Uint8Array(Buffer.from(((await res.json()) as { key: string }).key, "base64"));
  for (const [index, chunk] of recording.entries()) await uploadChunk(base, credential, sessionId, index, key, chunk);
  await api(`/sessions/${sessionId}/stop`, { body: { chunkCount: recording.length }, token: first.accessToken });
  await untilStored(base, sessionId, first.accessToken);

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

/** The canvas's pixels (RGBA) and the capture time of the frame it shows. */
async function canvasFrame(): Promise<{ epochMs: number; width: number; height: number; rgba: Buffer }> {
  // Runs in the page (this file is typed without the DOM library, hence the narrow shape).
  interface Canvas2d {
    width: number;
    height: number;
    dataset: Record<string, string>;
    getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
  }
  const out = await page.locator("canvas").evaluate((node) => {
    const canvas = node as unknown as Canvas2d;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let text = "";
    for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return { epochMs: Number(canvas.dataset.frameMs), width: canvas.width, height: canvas.height, rgba: btoa(text) };
  });
  return { ...out, rgba: Buffer.from(out.rgba, "base64") };
}

async function expectFrame(epochMs: number) {
  await page.locator(`canvas[data-frame-ms="${epochMs}"]`).waitFor({ timeout: 20_000 });
  const shown = await canvasFrame();
  const recorded = frames.find((f) => f.epochMs === epochMs)!;
  expect([shown.width, shown.height]).toEqual([WIDTH, HEIGHT]);
  // Exact, byte for byte: the recording is lossless and the canvas is written with putImageData.
  expect(Buffer.compare(shown.rgba, Buffer.from(bgrToRgba(recorded.frame.pixels)))).toBe(0);
}

describe("dashboard in Chromium", () => {
  it("is served by the self-hosted workerd from its disk service, and reports healthy", async () => {
    const page = await fetch(`${base}/sessions/deep-link`);
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain('<div id="root">');
    // Operations endpoints need ADMIN: a token signed with the deployment's key (no browser login yet).
    const token = await sign({ sub: crypto.randomUUID(), role: "ADMIN", iat: now(), exp: now() + 300 }, secrets.JWT_SECRET_KEY, "HS256");
    const res = await fetch(`${base}/api/v1/system/services/check`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ services: ["dashboard"] }),
    });
    const body = (await res.json()) as { functions: { name: string; status: string }[] };
    expect(body.functions.find((f) => f.name === "dashboard")).toMatchObject({ status: "up" });
  });

  it("signs in with a pasted TRON signature, then TOTP", async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/login/);
    await page.getByLabel("TRON address").fill(admin.address);
    await page.getByRole("button", { name: "Get the message to sign" }).click();
    const sign = async () => {
      const message = await page.locator('textarea[name="message"]').inputValue();
      expect(message).toContain(admin.address);
      await page.getByLabel("Signature (hex)").fill(Trx.signMessageV2(message, admin.privateKey));
      await page.getByRole("button", { name: "Sign in" }).click();
    };
    await page.locator('textarea[name="message"]').waitFor();
    await shot("01-login-message");
    await sign();
    // The account is a SUPER_ADMIN with TOTP: the server asks for the code, then a fresh signature.
    await page.getByRole("heading", { name: "Two-factor code" }).waitFor();
    await page.getByLabel("TOTP code").fill(totpCode(admin.totpSecret, now()));
    await page.getByRole("button", { name: "Continue" }).click();
    await page.locator('textarea[name="message"]').waitFor();
    await sign();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await expect(page.locator("[data-role]").textContent()).resolves.toBe("SUPER_ADMIN");
    await page.getByRole("heading", { name: "Chain growth" }).waitFor();
    // ADMIN+ also see the operations panel (admin API): emergency state, nodes, payouts, audit, alerts.
    await page.getByRole("region", { name: "Operations" }).getByText("no control active").waitFor();
    // The plots come from the live API: the recorded session's bytes per hour and the chain's blocks.
    await page.getByRole("img", { name: /^Recorded per hour \(newest sessions\): 1 points/ }).waitFor();
    await page.getByRole("img", { name: /^Block height: \d+ points/ }).waitFor();
    await shot("02-overview");
  });

  it("opens the session, plays its recording and shows the recorded pixels exactly", async () => {
    await page.getByRole("link", { name: "Sessions" }).click();
    await page.getByRole("link", { name: "Dashboard playback" }).click();
    await page.getByRole("button", { name: "Load recording" }).click();
    await page.locator('canvas[data-state="paused"]').waitFor({ timeout: 20_000 });
    await expectFrame(frames[0]!.epochMs);
    await shot("03-session-first-frame");

    // Play to the end: through the chunk boundary, deltas applied frame by frame.
    await page.getByRole("button", { name: "Play" }).click();
    await page.locator('canvas[data-state="ended"]').waitFor({ timeout: 30_000 });
    await expectFrame(frames[frames.length - 1]!.epochMs);
    await shot("04-session-last-frame");

    // Seek to a delta frame inside the second chunk with the slider, then back one keyframe.
    const target = recording[1]!.frames[2]!.epochMs;
    await page.locator('input[name="position"]').fill(String(target - frames[0]!.epochMs));
    await expectFrame(target);
    await page.getByRole("button", { name: "◀ Keyframe" }).click();
    await expectFrame(recording[1]!.frames[0]!.epochMs);
    // And from the keyboard: Home goes to the first frame.
    await page.locator(".screen").focus();
    await page.keyboard.press("Home");
    await expectFrame(frames[0]!.epochMs);
    await shot("05-session-seek");
  });

  it("verifies the session's evidence and its anchor block in the browser", async () => {
    // The session is anchored within a block interval; its page polls the state.
    await page.locator('[data-testid="session-state"]', { hasText: "completed" }).waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Verify with the chunk files" }).click();
    await page.getByText("Verified: the recording is intact and anchored.").waitFor();
    await expect(page.getByText("2 chunk hashes, 2 chunk files match them").count()).resolves.toBe(1);
    await shot("06-evidence");

    await page.getByRole("link", { name: /^block \d+$/ }).click();
    await page.getByRole("button", { name: "Verify this block in the browser" }).click();
    await page.getByText("All checks passed.").waitFor();
    await expect(page.getByText(/transactions give the txRoot/).count()).resolves.toBe(1);
    await shot("07-chain-block");
  });

  it("a USER sees only their pages, and refusals read as sentences from problem+json", async () => {
    const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
    // A new tab is a new login session (tokens live in sessionStorage).
    const tab = await browser!.context.newPage();
    try {
      await tab.goto(`${base}/sessions`);
      await tab.getByLabel("TRON address").fill(account.address.base58);
      await tab.getByRole("button", { name: "Get the message to sign" }).click();
      await tab.getByLabel("Signature (hex)").fill("0x" + "ab".repeat(65));
      await tab.getByRole("button", { name: "Sign in" }).click();
      const refusal = tab.getByRole("alert");
      await refusal.getByText("Unauthorized").waitFor();
      await refusal.getByText(/the signature does not match/).waitFor();
      await tab.screenshot({ path: join(ARTIFACTS, "08-login-refused.png") });

      await tab.getByRole("button", { name: "Get the message to sign" }).click();
      const message = await tab.locator('textarea[name="message"]').inputValue();
      await tab.getByLabel("Signature (hex)").fill(Trx.signMessageV2(message, account.privateKey));
      await tab.getByRole("button", { name: "Sign in" }).click();
      // Back where the login started (?next=), as a USER.
      await tab.getByRole("heading", { name: "Sessions" }).waitFor();
      expect(new URL(tab.url()).pathname).toBe("/sessions");
      const nav = tab.getByRole("navigation", { name: "Dashboard" });
      expect(await nav.getByRole("link").allTextContents()).toEqual(["Overview", "Sessions", "Chain", "Account"]);
      await tab.getByText("No sessions match.").waitFor();

      await tab.goto(`${base}/nodes`);
      await tab.getByText("Nodes is for NODE_OPERATOR and above; you are signed in as USER.").waitFor();
      await tab.goto(`${base}/sessions/${sessionId}`);
      await tab.getByRole("alert").getByText("Not found").waitFor();
      await tab.screenshot({ path: join(ARTIFACTS, "09-user-refused.png") });
    } finally {
      await tab.close();
    }
  });

  it("signs in with a magic link from the mail", async () => {
    const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
    const user = await walletLogin(undefined, { address: account.address.base58, privateKey: account.privateKey });
    const email = `dash-${Date.now()}@example.org`;
    await api("/users/me", { method: "PATCH", body: { email }, token: user.accessToken });
    // A new email is set once the token mailed to it comes back.
    const confirmToken = await until(
      "the confirmation mail",
      async () => {
        const { messages } = await api<{ messages: { to: string; subject: string; text: string }[] }>("/auth/outbox", {
          token: await adminToken(),
        });
        return /\n\n(\S+)\n\n/.exec(messages.find((m) => m.to === email && m.subject.startsWith("Confirm"))?.text ?? "")?.[1];
      },
      { intervalMs: 200 },
    );
    await api("/users/me/email/confirm", { body: { token: confirmToken }, token: user.accessToken });

    const tab = await browser!.context.newPage();
    try {
      await tab.goto(`${base}/login`);
      await tab.getByRole("tab", { name: "Email link" }).click();
      await tab.getByRole("textbox", { name: "Email" }).fill(email);
      await tab.getByRole("button", { name: "Send the link" }).click();
      await tab.getByText(/a link is on its way/).waitFor();
      const link = await until(
        "the login link mail",
        async () => {
          const { messages } = await api<{ messages: { to: string; subject: string; text: string }[] }>("/auth/outbox", {
            token: await adminToken(),
          });
          return /https?:\/\/\S+\/login\/magic#token=\S+/.exec(
            messages.find((m) => m.to === email && /login link/i.test(m.subject))?.text ?? "",
          )?.[0];
        },
        { intervalMs: 200 },
      );
      expect(link).toBeTruthy();
      await tab.goto(link!);
      await tab.getByRole("heading", { name: "Finish signing in" }).waitFor();
      // The token left the address bar before anything else happened.
      expect(tab.url()).toBe(`${base}/login/magic`);
      await tab.getByRole("button", { name: "Sign in" }).click();
      await tab.getByRole("heading", { name: "Overview" }).waitFor();
      expect(await tab.locator("[data-role]").textContent()).toBe("USER");
    } finally {
      await tab.close();
    }
  });

  it("triggers and lifts a lockdown from the emergency page, and the audit log shows and verifies it", async () => {
    const who = await newAccount();
    const user = await walletLogin(undefined, who);
    // A USER signed in on another tab sees the emergency state and broadcasts live (WebSocket).
    const userTab = await browser!.context.newPage();
    await userTab.goto(`${base}/login`);
    await userTab.getByLabel("TRON address").fill(who.address);
    await userTab.getByRole("button", { name: "Get the message to sign" }).click();
    const message = await userTab.locator('textarea[name="message"]').inputValue();
    await userTab.getByLabel("Signature (hex)").fill(Trx.signMessageV2(message, who.privateKey));
    await userTab.getByRole("button", { name: "Sign in" }).click();
    await userTab.getByRole("heading", { name: "Overview" }).waitFor();
    const createSession = () =>
      fetch(`${base}/api/v1/sessions`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${user.accessToken}` },
        body: JSON.stringify({ nodeId, title: "during the drill" }),
      });

    await page.getByRole("link", { name: "Emergency" }).click();
    const lockdown = page.getByRole("form", { name: /^Lockdown/ });
    await expect(page.getByTestId("lockdown-state").textContent()).resolves.toBe("off");
    await lockdown.getByLabel("Reason (recorded in the audit log)").fill("e2e lockdown drill");
    // The next TOTP step: the login used the current one, and each step is accepted once.
    await lockdown.getByLabel("TOTP or recovery code").fill(totpCode(admin.totpSecret, now() + 30));
    await lockdown.getByRole("button", { name: "Start lockdown" }).click();
    await page.getByTestId("lockdown-state").getByText("ACTIVE").waitFor();
    await page
      .getByTestId("emergency-banner")
      .getByText(/LOCKDOWN/)
      .waitFor();
    await userTab
      .getByTestId("emergency-banner")
      .getByText(/LOCKDOWN/)
      .waitFor();
    await shot("10-lockdown-active");
    await userTab.screenshot({ path: join(ARTIFACTS, "10b-lockdown-seen-by-user.png") });

    // A USER's write is refused with the lockdown problem; reads continue.
    const refused = await createSession();
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { type: string }).type).toBe("/problems/lockdown");
    expect((await fetch(`${base}/api/v1/sessions`, { headers: { Authorization: `Bearer ${user.accessToken}` } })).status).toBe(200);

    // Lifted with a recovery code (the TOTP step above is spent).
    await lockdown.getByLabel("Reason (recorded in the audit log)").fill("drill over");
    await lockdown.getByLabel("TOTP or recovery code").fill(admin.recoveryCodes[0]!);
    await lockdown.getByRole("button", { name: "Lift lockdown" }).click();
    await page.getByTestId("lockdown-state").getByText("off").waitFor();
    await page.getByTestId("emergency-banner").waitFor({ state: "detached" });
    await userTab.getByTestId("emergency-banner").waitFor({ state: "detached" });
    expect((await createSession()).status).toBe(201);
    await shot("11-lockdown-lifted");

    const broadcast = page.getByRole("form", { name: "Broadcast a notification" });
    await broadcast.getByLabel("Title").fill("Maintenance tonight");
    await broadcast.getByLabel("Message").fill("Recording pauses at 02:00 UTC for ten minutes.");
    await broadcast.getByLabel("TOTP or recovery code").fill(admin.recoveryCodes[1]!);
    await broadcast.getByRole("button", { name: "Send" }).click();
    await broadcast.getByText(/^Notification \d+ sent\.$/).waitFor();
    await userTab.getByText("Maintenance tonight").waitFor();
    await userTab.getByRole("button", { name: "Dismiss “Maintenance tonight”" }).click();
    await userTab.getByText("Maintenance tonight").waitFor({ state: "detached" });
    await userTab.close();

    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByLabel("Action").fill("emergency.lockdown");
    await page.getByRole("button", { name: "Search" }).click();
    const rows = page.locator("tbody tr[data-action]");
    await rows.nth(1).waitFor();
    await page.locator('tbody tr[data-action]:not([data-action="emergency.lockdown"])').first().waitFor({ state: "detached" });
    expect(await rows.count()).toBe(2);
    await page.getByRole("button", { name: "Verify the hash chain (server)" }).click();
    await page.getByText(/^Server: the chain of \d+ events verifies/).waitFor();
    await page.getByRole("button", { name: "Export and verify in this browser" }).click();
    await page.getByText(/^Browser: \d+ exported events and \d+ anchor proofs verify\./).waitFor();
    await shot("12-audit");
  });
});
