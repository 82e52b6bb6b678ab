// Alerts end to end: a real workerd process (the self-hosted config) whose TRON node (the double)
// is stopped. Within one check the TRON-backed services report down, and AdminDO's own alarm
// raises tron:unavailable and delivers it to a real HTTP receiver on loopback, which verifies the
// HMAC signature, and to the mail outbox.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { totpCode } from "../../shared/totp.ts";
import { addressFromPrivateKey, signMessageV2 } from "../../shared/tron/message-signature.ts";
import { startAlertReceiver, type Receiver } from "../alert-receiver/server.ts";
import { startTronDouble, type TronDouble } from "../tron-double/server.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const SECRET = randomBytes(32).toString("hex");
const work = mkdtempSync(join(tmpdir(), "lucid-e2e-alerts-"));
const BOOTSTRAP = (() => {
  const key = new Uint8Array(randomBytes(32));
  return { key, address: addressFromPrivateKey(key) };
})();
let base = "";
let double: TronDouble;
let receiver: Receiver;
let workerd: WorkerdProcess | undefined;

beforeAll(async () => {
  double = await startTronDouble();
  receiver = await startAlertReceiver(SECRET);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port, {
    vars: {
      TRON_RPC_URL: double.url,
      TRON_TIMEOUT_MS: "500",
      TRON_MAX_RETRIES: "0",
      BOOTSTRAP_SUPER_ADMIN_ADDRESS: BOOTSTRAP.address,
      ALERT_WEBHOOK_URLS: `${receiver.url}/hook`,
      ALERT_MAIL_TO: "ops@lucid.test",
      MAIL_DEV_OUTBOX: "true",
    },
    outboundAllow: ["public", "local"], // the double and the receiver listen on 127.0.0.1
  });
  workerd = startWorkerd(configPath, { env: { ...randomSecrets(), ALERT_WEBHOOK_SECRET: SECRET } });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);
});

afterAll(async () => {
  await workerd?.stop("SIGTERM");
  await receiver?.close();
  await double?.close();
  rmSync(work, { recursive: true, force: true });
});

async function call(path: string, init: { token?: string; body?: unknown } = {}): Promise<Record<string, any>> {
  const res = await fetch(`${base}${path}`, {
    method: init.body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json", ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return res.json() as Promise<Record<string, any>>;
}

/** The bootstrap SUPER_ADMIN, past its second factor (TOTP enrolled, then a login with a recovery code). */
async function adminToken(): Promise<string> {
  const login = async (extra: Record<string, unknown> = {}) => {
    const { message, nonce } = await call("/api/v1/auth/challenge", { body: { address: BOOTSTRAP.address } });
    return call("/api/v1/auth/verify", {
      body: { address: BOOTSTRAP.address, nonce, signature: signMessageV2(message, BOOTSTRAP.key), ...extra },
    });
  };
  const first = await login();
  const { secret } = await call("/api/v1/auth/totp/enrol", { token: first.accessToken, body: {} });
  const { recoveryCodes } = await call("/api/v1/auth/totp/confirm", {
    token: first.accessToken,
    body: { code: totpCode(secret, Date.now() / 1000) },
  });
  const full = await login({ recoveryCode: recoveryCodes[0] });
  expect(full.effectiveRole).toBe("SUPER_ADMIN");
  return full.accessToken as string;
}

describe("alerts on a self-hosted workerd", () => {
  it(
    "TRON stopped: services say down at once, and the alert reaches the signed webhook and the mail outbox",
    { timeout: 120_000 },
    async () => {
      const token = await adminToken();
      const before = await call("/api/v1/system/services", { token });
      expect(before.functions.find((f: { name: string }) => f.name === "payments")).toMatchObject({ status: "up" });

      await double.close();
      const after = await call("/api/v1/system/services", { token });
      expect(after.functions.find((f: { name: string }) => f.name === "payments")).toMatchObject({ status: "down" });
      for (const id of [22, 23, 24, 25])
        expect(after.seedServices.find((s: { id: number }) => s.id === id)).toMatchObject({ status: "down" });

      // AdminDO's alarm evaluates the rules every alerts.evaluateEverySeconds (30 s by default).
      const hook = async () => {
        const res = await fetch(`${receiver.url}/__receiver/received`, {
          method: "POST",
          body: JSON.stringify({ match: "tron:unavailable" }),
        });
        return (await res.json()) as {
          accepted: { event: string; body: { alert: { key: string; rule: string; state: string } } }[];
          refused: unknown[];
        };
      };
      await vi.waitFor(async () => expect((await hook()).accepted.length).toBeGreaterThan(0), { timeout: 90_000, interval: 500 });
      const { accepted, refused } = await hook();
      expect(accepted[0]).toMatchObject({
        event: "alert.raised",
        body: { alert: { key: "tron:unavailable", rule: "tron_unavailable", state: "open" } },
      });
      expect(refused).toEqual([]);

      await vi.waitFor(
        async () => {
          const outbox = await call("/api/v1/auth/outbox?limit=200", { token });
          const mail = outbox.messages as { to: string; subject: string }[];
          expect(mail.some((m) => m.to === "ops@lucid.test" && /TRON/.test(m.subject))).toBe(true);
        },
        { timeout: 30_000, interval: 500 },
      );
    },
  );
});
