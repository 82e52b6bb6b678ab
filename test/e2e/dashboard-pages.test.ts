// The dashboard's operations pages (users and roles, runtime configuration, wallets and staking,
// alerts) in Debian's Chromium against a real self-hosted workerd: each page shows what the API
// holds, its actions change it, refusals read as sentences, and its main element renders
// (a screenshot of it, kept in test-artifacts/dashboard/, git-ignored).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import { TronWeb, Trx } from "tronweb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { totpCode } from "../../shared/totp.ts";
import { ARTIFACTS, launchChromium } from "./helpers/browser.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-dashboard-pages-"));
let base = "";
let workerd: WorkerdProcess | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;
let admin: { id: string; address: string; privateKey: string; totpSecret: string };
const now = () => Math.floor(Date.now() / 1000);

async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}), ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function newAccount(): Promise<{ address: string; privateKey: string }> {
  const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
  return { address: account.address.base58, privateKey: account.privateKey };
}

async function walletLogin(who: { address: string; privateKey: string }, totp?: string): Promise<{ accessToken: string; user: { id: string } }> {
  const { message, nonce } = await api<{ message: string; nonce: string }>("/auth/challenge", { body: { address: who.address } });
  const signature = Trx.signMessageV2(message, who.privateKey);
  return api("/auth/verify", { body: { address: who.address, nonce, signature, ...(totp ? { totpCode: totp } : {}) } });
}

/** The admin's access token from the dashboard tab (TOTP codes are single-use, so no second login). */
async function adminToken(): Promise<string> {
  const stored = await page.evaluate(() => sessionStorage.getItem("lucid.dashboard.tokens"));
  return (JSON.parse(stored!) as { accessToken: string }).accessToken;
}

/** The page's main element renders: a non-empty screenshot of it, kept as an artifact. */
async function screenshotOf(locator: Locator, name: string) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  expect(box && box.width > 50 && box.height > 20).toBe(true);
  const png = await locator.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  // A PNG of the element (signature + IHDR + pixels), not an empty capture.
  expect(png.subarray(1, 4).toString()).toBe("PNG");
  expect(png.length).toBeGreaterThan(2_000);
}

beforeAll(async () => {
  const account = await newAccount();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port, {
    // One wrong step-up code throttles (briefly) and raises an alert the alerts page shows.
    vars: { BOOTSTRAP_SUPER_ADMIN_ADDRESS: account.address, STEP_UP_MAX_FAILURES: "1", STEP_UP_BACKOFF_SECONDS: "1", STEP_UP_BACKOFF_MAX_SECONDS: "1" },
  });
  workerd = startWorkerd(configPath, { env: randomSecrets() });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);

  const first = await walletLogin(account);
  const enrolment = await api<{ secret: string }>("/auth/totp/enrol", { body: {}, token: first.accessToken });
  await api("/auth/totp/confirm", { body: { code: totpCode(enrolment.secret, now() - 30) }, token: first.accessToken });
  admin = { id: first.user.id, ...account, totpSecret: enrolment.secret };

  browser = await launchChromium();
  page = await browser.context.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel("TRON address").fill(admin.address);
  const sign = async () => {
    await page.getByRole("button", { name: "Get the message to sign" }).click();
    const message = await page.locator('textarea[name="message"]').inputValue();
    await page.getByLabel("Signature (hex)").fill(Trx.signMessageV2(message, admin.privateKey));
    await page.getByRole("button", { name: "Sign in" }).click();
  };
  await sign();
  await page.getByLabel("TOTP code").fill(totpCode(admin.totpSecret, now()));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator('textarea[name="message"]').waitFor();
  const message = await page.locator('textarea[name="message"]').inputValue();
  await page.getByLabel("Signature (hex)").fill(Trx.signMessageV2(message, admin.privateKey));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("dashboard operations pages in Chromium", () => {
  it("users and roles: finds a user, changes their role, and shows a refusal as its problem", async () => {
    const operator = await newAccount();
    const other = await newAccount();
    const { user } = await walletLogin(operator);
    await walletLogin(other);

    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users and roles" }).waitFor();
    const table = page.getByTestId("users-table");
    await page.getByText("3 of 3 users.").waitFor();
    await page.getByRole("searchbox", { name: "Search users" }).fill(operator.address.slice(0, 12));
    await page.getByText("1 of 3 users.").waitFor();
    const row = table.locator(`tr[data-user="${user.id}"]`);
    await expect(row.getByTestId("role").textContent()).resolves.toBe("USER");

    await row.getByRole("combobox").selectOption("NODE_OPERATOR");
    await row.getByRole("button", { name: "Change role" }).click();
    await row.getByText("Now NODE_OPERATOR.").waitFor();
    await row.getByTestId("role").getByText("NODE_OPERATOR").waitFor();
    const stored = await api<{ role: string }>(`/users/${user.id}`, { token: await adminToken() });
    expect(stored.role).toBe("NODE_OPERATOR");
    await screenshotOf(table, "20-users");

    // The last SUPER_ADMIN cannot demote themselves: the server's 409 reads as a sentence.
    await page.getByRole("searchbox", { name: "Search users" }).fill(admin.address);
    const mine = table.locator(`tr[data-user="${admin.id}"]`);
    await mine.getByText("(you)").waitFor();
    await mine.getByRole("combobox").selectOption("ADMIN");
    await mine.getByRole("button", { name: "Change role" }).click();
    await mine.getByRole("alert").getByText(/The last SUPER_ADMIN cannot be demoted/).waitFor();
    expect((await api<{ role: string }>(`/users/${admin.id}`, { token: await adminToken() })).role).toBe("SUPER_ADMIN");
  });

  it("alerts: an open alert is acknowledged, then resolved into the history", async () => {
    // A wrong step-up code (throttled at once in this deployment) raises a critical alert.
    const res = await fetch(`${base}/api/v1/admin/emergency/lockdown`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${await adminToken()}` },
      body: JSON.stringify({ active: true, reason: "probe for the alerts page", recoveryCode: "not-a-recovery-code" }),
    });
    expect(res.status).toBe(403);
    const key = `step-up:${admin.id}`;

    await page.getByRole("link", { name: "Alerts" }).click();
    await page.getByRole("heading", { name: "Alerts", exact: true }).waitFor();
    const open = page.getByTestId("alerts-open");
    const acknowledged = page.getByTestId("alerts-acknowledged");
    const resolved = page.getByTestId("alerts-resolved");
    const row = (section: Locator) => section.locator(`tr[data-alert="${key}"]`);
    await row(open).getByText("Repeated wrong step-up codes").waitFor();
    await acknowledged.getByText("No acknowledged alerts.").waitFor();
    await resolved.getByText("No resolved alerts yet.").waitFor();
    await screenshotOf(open, "21-alerts-open");

    await row(open).getByRole("button", { name: "Acknowledge" }).click();
    await row(acknowledged).getByTestId("acknowledged-by").getByText(admin.id.slice(0, 8)).waitFor();
    await open.getByText("No open alerts.").waitFor();

    await row(acknowledged).getByRole("button", { name: "Resolve" }).click();
    await row(resolved).getByTestId("resolved-by").getByText(admin.id.slice(0, 8)).waitFor();
    await acknowledged.getByText("No acknowledged alerts.").waitFor();
    await resolved.getByRole("img", { name: /^Resolved alerts per day raised: 1 points/ }).waitFor();
    await screenshotOf(resolved, "22-alerts-history");
    const history = await api<{ items: { key: string; state: string; acknowledgedBy: string | null }[] }>("/admin/alerts?state=resolved", { token: await adminToken() });
    expect(history.items.find((a) => a.key === key)).toMatchObject({ state: "resolved", acknowledgedBy: admin.id });
  });
});
