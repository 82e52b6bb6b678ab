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
import { sign } from "hono/jwt";
import { enrol } from "../../pi-agent/lib/node/enroll.ts";
import { ControlChannel } from "../../pi-agent/lib/node/control-channel.ts";
import type { ResourceReport } from "../../shared/rdp/protocol.ts";
import { startTronDouble, type TronDouble } from "../tron-double/server.ts";
import { apiJson, type ApiInit } from "./helpers/lucid-client.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-dashboard-pages-"));
let base = "";
let workerd: WorkerdProcess | undefined;
let double: TronDouble | undefined;
let secrets: ReturnType<typeof randomSecrets>;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;
let admin: { id: string; address: string; privateKey: string; totpSecret: string; recoveryCodes: string[] };
const now = () => Math.floor(Date.now() / 1000);

const api = <T>(path: string, init?: ApiInit) => apiJson<T>(base, path, init);

async function newAccount(): Promise<{ address: string; privateKey: string }> {
  const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
  return { address: account.address.base58, privateKey: account.privateKey };
}

async function walletLogin(
  who: { address: string; privateKey: string },
  totp?: string,
): Promise<{ accessToken: string; user: { id: string } }> {
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
  double = await startTronDouble();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port, {
    vars: {
      BOOTSTRAP_SUPER_ADMIN_ADDRESS: account.address,
      // One wrong step-up code throttles (briefly) and raises an alert the alerts page shows.
      STEP_UP_MAX_FAILURES: "1",
      STEP_UP_BACKOFF_SECONDS: "1",
      STEP_UP_BACKOFF_MAX_SECONDS: "1",
      // Wallets read balances from the TRON double; hot wallets are reconciled soon after creation.
      TRON_RPC_URL: double.url,
      TRON_TIMEOUT_MS: "2000",
      PAYOUT_RECONCILE_INTERVAL_SECONDS: "10",
      // The RDP agent reports each desktop's resources every second (plots fill quickly).
      RDP_REPORT_SECONDS: "1",
    },
    outboundAllow: ["public", "local"], // the double listens on 127.0.0.1
  });
  secrets = randomSecrets();
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);

  const first = await walletLogin(account);
  const enrolment = await api<{ secret: string }>("/auth/totp/enrol", { body: {}, token: first.accessToken });
  const { recoveryCodes } = await api<{ recoveryCodes: string[] }>("/auth/totp/confirm", {
    body: { code: totpCode(enrolment.secret, now() - 30) },
    token: first.accessToken,
  });
  admin = { id: first.user.id, ...account, totpSecret: enrolment.secret, recoveryCodes };

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
  await double?.close();
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

    // USER ⇄ NODE_OPERATOR needs no code; granting ADMIN asks for one with the change.
    expect(await row.getByLabel("TOTP or recovery code").count()).toBe(0);
    await row.getByRole("combobox").selectOption("ADMIN");
    await row.getByLabel("TOTP or recovery code").waitFor();
    await row.getByRole("combobox").selectOption("NODE_OPERATOR");

    // The last SUPER_ADMIN cannot demote themselves: the server's 409 reads as a sentence.
    await page.getByRole("searchbox", { name: "Search users" }).fill(admin.address);
    const mine = table.locator(`tr[data-user="${admin.id}"]`);
    await mine.getByText("(you)").waitFor();
    await mine.getByRole("combobox").selectOption("ADMIN");
    await mine.getByLabel("TOTP or recovery code").fill(admin.recoveryCodes[0]!);
    await mine.getByRole("button", { name: "Change role" }).click();
    await mine
      .getByRole("alert")
      .getByText(/The last SUPER_ADMIN cannot be demoted/)
      .waitFor();
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
    await resolved.getByRole("img", { name: /^Resolved alerts per day raised \(14 days\): 14 points, latest 1 at / }).waitFor();
    await screenshotOf(resolved, "22-alerts-history");
    const history = await api<{ items: { key: string; state: string; acknowledgedBy: string | null }[] }>("/admin/alerts?state=resolved", {
      token: await adminToken(),
    });
    expect(history.items.find((a) => a.key === key)).toMatchObject({ state: "resolved", acknowledgedBy: admin.id });
  });

  it("runtime configuration: a refused edit shows its field error, a saved one is a version, compared and rolled back", async () => {
    await page.getByRole("link", { name: "Configuration" }).click();
    const editor = page.getByTestId("config-editor");
    await editor.getByRole("heading", { name: /^Version 0/ }).waitFor();

    // Zod on the server refuses 0; the field says why and nothing is saved.
    await editor.getByLabel("healthAlertAfterFailures").fill("0");
    await editor.getByLabel("Reason (recorded in the audit log)").fill("alert sooner");
    await editor.getByRole("button", { name: "Save as a new version" }).click();
    await editor.getByRole("alert").getByText("Validation failed").waitFor();
    await expect(editor.getByLabel("healthAlertAfterFailures").getAttribute("aria-invalid")).resolves.toBe("true");
    expect((await api<{ version: number }>("/admin/config", { token: await adminToken() })).version).toBe(0);

    await editor.getByLabel("healthAlertAfterFailures").fill("5");
    await editor.getByLabel("lockdownMessage").fill("Maintenance: writes pause for a few minutes.");
    await editor.getByRole("button", { name: "Save as a new version" }).click();
    await page
      .getByTestId("config-editor")
      .getByRole("heading", { name: /^Version 1 / })
      .waitFor();
    await page.getByTestId("config-editor").getByLabel("notificationHistory").fill("500");
    await page.getByTestId("config-editor").getByLabel("Reason (recorded in the audit log)").fill("keep more broadcasts");
    await page.getByTestId("config-editor").getByRole("button", { name: "Save as a new version" }).click();
    await page
      .getByTestId("config-editor")
      .getByRole("heading", { name: /^Version 2 / })
      .waitFor();

    // The diff of the last change (1 → 2), then of everything since the defaults.
    const diff = page.getByTestId("config-diff");
    await diff.getByText("1 setting differs from version 1 to 2.").waitFor();
    await expect(diff.locator('tr[data-path="notificationHistory"] ins').textContent()).resolves.toBe("500");
    await page.locator('select[name="diffFrom"]').selectOption("0");
    await diff.getByText("3 settings differ from version 0 to 2.").waitFor();
    await expect(diff.locator('tr[data-path="healthAlertAfterFailures"] del').textContent()).resolves.toBe("2");
    await screenshotOf(page.getByRole("region", { name: "Versions" }), "23-config-versions");

    await page.getByLabel("Rollback reason (recorded in the audit log)").fill("500 was too many");
    await page.getByTestId("config-versions").locator('tr[data-version="1"]').getByRole("button", { name: "Roll back to 1" }).click();
    await page
      .getByTestId("config-editor")
      .getByRole("heading", { name: /^Version 3 / })
      .waitFor();
    await page.getByTestId("config-versions").locator('tr[data-version="3"]').getByText("(rollback to 1)").waitFor();
    await expect(page.getByTestId("config-editor").getByLabel("notificationHistory").inputValue()).resolves.toBe("200");
    await screenshotOf(page.getByTestId("config-editor"), "24-config-editor");
    expect(
      await api<{ version: number; rollbackOf: number; config: { notificationHistory: number } }>("/admin/config", {
        token: await adminToken(),
      }),
    ).toMatchObject({
      version: 3,
      rollbackOf: 1,
      config: { notificationHistory: 200 },
    });
  });

  it("wallets and staking: balances from TRON, pending payouts, the reconciliation's verdict and stakes", async () => {
    const token = await adminToken();
    const payments = async (path: string, body: unknown) => {
      const res = await fetch(`${base}/api/v1/payments${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
        body: JSON.stringify(body),
      });
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(201);
      return (await res.json()) as { id: string; address: string };
    };
    const hot = await payments("/wallets", { kind: "hot", label: "payouts" });
    await payments("/wallets", { kind: "cold", label: "vault", address: (await newAccount()).address });
    double!.chain.fund(hot.address, 5_000_000_000n, { contract: double!.usdt, units: 750_250_000n });
    await payments("/payouts", { recipient: (await newAccount()).address, amount: "25" });
    await payments("/payouts", { recipient: (await newAccount()).address, amount: "40.5" });
    await payments("/stakes", { walletId: hot.id, amount: "1000", resource: "ENERGY" });

    await page.getByRole("link", { name: "Wallets" }).click();
    await page.getByRole("heading", { name: "Wallets and staking" }).waitFor();
    const wallets = page.getByTestId("wallets");
    const hotRow = wallets.locator('tr[data-wallet="payouts"]');
    await hotRow.getByTestId("usdt").getByText("750.25").waitFor();
    await expect(hotRow.getByTestId("trx").textContent()).resolves.toMatch(/^(5000|4000)(\.0+)?$/);
    await wallets.locator('tr[data-wallet="vault"]').getByText("(watch-only)").waitFor();
    await screenshotOf(wallets, "25-wallets");

    const pending = page.getByTestId("pending-payouts");
    await pending.getByText(/^2 payouts pending, 65\.\d+ USDT net to pay\./).waitFor();
    await expect(pending.locator('dd[data-state="requested"]').textContent()).resolves.toMatch(/^2 · /);
    await page.getByTestId("stakes").getByText("ENERGY").waitFor();

    // The ledger's alarm reconciles the hot wallet within PAYOUT_RECONCILE_INTERVAL_SECONDS; the page polls.
    const reconciliation = page.getByTestId("reconciliation");
    await reconciliation.locator('[data-wallet="payouts"]').getByText("agrees").waitFor({ timeout: 45_000 });
    await reconciliation.getByText(/0 transfers on chain, 0 payouts with a transaction/).waitFor();
    await screenshotOf(page.locator("main"), "26-wallets-page");
  });

  it("RDP desktops: a host's desktop with its state, user and CPU/memory plotted from the agent's reports", async () => {
    // A node enrolled as the agent does, running the agent's own control channel; its "xrdp"
    // starts servers at once and reports rising CPU and memory every RDP_REPORT_SECONDS.
    const at = now();
    const operatorId = `operator-${crypto.randomUUID()}`;
    const operatorToken = await sign({ sub: operatorId, role: "NODE_OPERATOR", iat: at, exp: at + 3600 }, secrets.JWT_SECRET_KEY, "HS256");
    const stateDir = mkdtempSync(join(tmpdir(), "lucid-e2e-rdp-node-"));
    const state = await enrol({
      server: base,
      operatorToken,
      operatorId,
      payoutAddress: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
      resources: { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 },
      stateDir,
    });
    const running = new Set<string>();
    let tick = 0;
    const channel = new ControlChannel({
      state,
      agentVersion: "e2e-agent/1",
      address: "pi.e2e",
      handler: {
        execute: async (command) => {
          if (command.kind === "server.start") running.add(command.serverId);
        },
        list: () => [...running].map((serverId) => ({ serverId, state: "listening" as const })),
        reports: (): ResourceReport[] => {
          tick++;
          return [...running].map((serverId) => ({
            kind: "resources",
            serverId,
            cpuPercent: 5 + (tick % 10),
            memoryMb: 300 + tick * 10,
            diskMb: 100,
            rxKbps: 50,
            txKbps: 10,
          }));
        },
      },
    });
    const stop = new AbortController();
    const run = channel.run(stop.signal);
    try {
      const token = await adminToken();
      const session = await api<{ id: string }>("/sessions", { body: { nodeId: state.nodeId, title: "Desktop e2e" }, token });
      const desktop = await api<{ server: { id: string } }>("/rdp/desktops", { body: { sessionId: session.id }, token });
      const serverId = desktop.server.id;

      await page.getByRole("link", { name: "Desktops" }).click();
      await page.getByRole("heading", { name: "RDP desktops" }).waitFor();
      const host = page.locator(`[data-host="${state.nodeId}"]`);
      await host.getByText("agent connected").waitFor();
      await host.getByText(/pi\.e2e · agent e2e-agent\/1/).waitFor();
      const row = host.locator(`tr[data-server="${serverId}"]`);
      await row.getByText("running").waitFor();
      // xrdp sees a client connect once the server runs.
      channel.send({ kind: "connection", serverId, state: "connecting", client: "203.0.113.7" });
      channel.send({ kind: "connection", serverId, state: "connected", client: "203.0.113.7" });
      await row.getByText("· connected").waitFor();
      await row.getByText(admin.id.slice(0, 10)).waitFor();
      await row
        .getByTestId("last-report")
        .getByText(/^\d+ % of \d+ % · \d+ of \d+ MB$/)
        .waitFor();

      await row.getByRole("button", { name: "Plot" }).click();
      const plots = host.getByTestId("resource-plots");
      // The plots poll the history; wait until it holds a few reports.
      const cpu = plots.getByRole("img", { name: /^CPU % \(limit \d+ %\): ([3-9]|\d\d+) points/ });
      await expect
        .poll(
          async () => {
            await plots.getByRole("combobox").selectOption(String((await plots.getByRole("combobox").inputValue()) === "60" ? "15" : "60"));
            return cpu.count();
          },
          { timeout: 30_000, interval: 1_000 },
        )
        .toBe(1);
      await plots.getByRole("img", { name: /^Memory MB \(limit \d+ MB\): \d+ points, latest \d+ MB/ }).waitFor();
      // The line is drawn: a polyline with one vertex per report.
      const vertices = await plots.locator("svg polyline").first().getAttribute("points");
      expect(vertices!.trim().split(" ").length).toBeGreaterThanOrEqual(3);
      await screenshotOf(host, "27-desktops");
      const history = await api<{ reports: unknown[] }>(`/rdp/hosts/${state.nodeId}/servers/${serverId}/reports`, {
        token: await adminToken(),
      });
      expect(history.reports.length).toBeGreaterThanOrEqual(3);
    } finally {
      stop.abort();
      await run;
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
