// Payments end to end: a real workerd process (the self-hosted config) against the TRON double,
// killed with SIGKILL while a payout's broadcast outcome is unknown. Logs are on (debug) so the
// check that no key material is ever logged means something.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { totpCode } from "../../shared/totp.ts";
import { createAccount, toHexAddress } from "../../shared/tron/address.ts";
import { addressFromPrivateKey, signMessageV2 } from "../../shared/tron/message-signature.ts";
import { startTronDouble, type TronDouble } from "../tron-double/server.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-payments-"));
const env = randomSecrets();
const BOOTSTRAP = (() => {
  const key = new Uint8Array(randomBytes(32));
  return { key, address: addressFromPrivateKey(key) };
})();
let base = "";
let configPath = "";
let double: TronDouble;
let workerd: WorkerdProcess | undefined;
const outputs: string[] = [];

async function start() {
  workerd = startWorkerd(configPath, { env });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);
}

async function stop(signal: NodeJS.Signals = "SIGTERM") {
  outputs.push(workerd?.output() ?? "");
  await workerd?.stop(signal);
}

beforeAll(async () => {
  double = await startTronDouble();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ({ configPath } = buildOnLoopback(work, port, {
    vars: {
      LOG_LEVEL: "debug",
      TRON_RPC_URL: double.url,
      TRON_TIMEOUT_MS: "1000",
      TRON_MAX_RETRIES: "1",
      BOOTSTRAP_SUPER_ADMIN_ADDRESS: BOOTSTRAP.address,
    },
    outboundAllow: ["public", "local"], // the double listens on 127.0.0.1
  }));
  await start();
});

afterAll(async () => {
  await stop();
  await double?.close();
  rmSync(work, { recursive: true, force: true });
});

async function post(path: string, body: unknown, token?: string): Promise<Record<string, any>> {
  const headers: Record<string, string> = { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  const res = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  expect(res.status, path).toBe(200);
  return res.json() as Promise<Record<string, any>>;
}

/**
 * The bootstrap SUPER_ADMIN's login that passed its second factor (wallet and payout writes check
 * the caller's current role and login session, which survive the restarts): challenge → sign →
 * verify, enrol TOTP, then log in again with a recovery code.
 */
let adminToken: Promise<string> | undefined;
/** The SUPER_ADMIN's unused recovery codes: approving a payout needs one (or a TOTP code) each time. */
const spareRecoveryCodes: string[] = [];
function adminLogin(): Promise<string> {
  adminToken ??= (async () => {
    const login = async (extra: Record<string, unknown> = {}) => {
      const { message, nonce } = await post("/api/v1/auth/challenge", { address: BOOTSTRAP.address });
      return post("/api/v1/auth/verify", { address: BOOTSTRAP.address, nonce, signature: signMessageV2(message, BOOTSTRAP.key), ...extra });
    };
    const first = await login();
    const { secret } = await post("/api/v1/auth/totp/enrol", {}, first.accessToken);
    const { recoveryCodes } = await post("/api/v1/auth/totp/confirm", { code: totpCode(secret, Date.now() / 1000) }, first.accessToken);
    const full = await login({ recoveryCode: recoveryCodes[0] });
    expect(full.effectiveRole).toBe("SUPER_ADMIN");
    spareRecoveryCodes.push(...(recoveryCodes as string[]).slice(1));
    return full.accessToken as string;
  })();
  return adminToken;
}

async function admin() {
  const token = await adminLogin();
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api/v1/payments${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": randomBytes(8).toString("hex") },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as Record<string, any> };
  };
}

describe("payments on a self-hosted workerd", () => {
  it("pays exactly once across a SIGKILL while the broadcast outcome is unknown, and never shows or logs the key", async () => {
    const call = await admin();
    const hot = createAccount();
    const keyHex = Buffer.from(hot.privateKey).toString("hex");
    const seen: string[] = [];
    const created = await call("POST", "/wallets", { kind: "hot", label: "e2e", privateKey: keyHex });
    seen.push(created.text);
    expect(created.status).toBe(201);
    const wallet = created.json();
    double.chain.fund(hot.address, 100_000_000_000n, { contract: double.usdt, units: 500_000_000n });

    const recipient = createAccount().address;
    const payout = await call("POST", "/payouts", { recipient, amount: "120.5" });
    seen.push(payout.text);
    const id = payout.json().id as string;
    const approved = await call("POST", `/payouts/${id}/approve`, { walletId: wallet.id, recoveryCode: spareRecoveryCodes.shift() });
    seen.push(approved.text);
    expect(approved.status, approved.text).toBe(200);
    // the node applies the broadcast but the answer never arrives (first try and the retry)
    double.faults.push({ path: "/wallet/broadcasttransaction", kind: "lost-response", times: 2, match: toHexAddress(hot.address) });
    seen.push((await call("POST", "/payouts/process", {})).text);
    const signed = await call("GET", `/payouts/${id}`);
    expect(signed.json().state).toBe("signed");

    await stop("SIGKILL");
    await start();
    double.chain.produceBlocks(20);
    const after = await (await admin())("POST", "/payouts/process", {});
    expect(after.status).toBe(200);
    const done = await (await admin())("GET", `/payouts/${id}`);
    seen.push(done.text);
    expect(done.json().state).toBe("confirmed");
    const paid = double.chain.transfers.filter((t) => t.to === toHexAddress(recipient));
    expect(paid.map((t) => t.amount)).toEqual([120_400_000n]);

    seen.push((await (await admin())("GET", "/wallets")).text, (await (await admin())("GET", "/audit")).text);
    await stop();
    const logs = outputs.join("\n");
    expect(logs).toContain('"event":"http.request"'); // logging was on
    for (const text of [...seen, logs]) expect(text.toLowerCase()).not.toContain(keyHex);
    await start();
  });
});
