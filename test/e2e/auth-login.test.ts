// TRON-wallet login end to end: a real workerd running the generated self-hosted config (the new
// auth Durable Objects included), signed by tronweb as a wallet would.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TronWeb, Trx } from "tronweb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-auth-"));
let base = "";
let workerd: WorkerdProcess | undefined;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port);
  workerd = startWorkerd(configPath, { env: randomSecrets() });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);
});

afterAll(async () => {
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

const post = (path: string, body: unknown, token?: string) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

describe("self-hosted login", () => {
  it("challenge → tronweb signMessageV2 → tokens → refresh; a replay is refused", async () => {
    const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
    const address = account.address.base58;
    const challenge = (await (await post("/api/v1/auth/challenge", { address, walletKind: "software" })).json()) as {
      message: string;
      nonce: string;
    };
    const signature = Trx.signMessageV2(challenge.message, account.privateKey);
    const verify = await post("/api/v1/auth/verify", { address, nonce: challenge.nonce, signature });
    expect(verify.status).toBe(200);
    const tokens = (await verify.json()) as { accessToken: string; refreshToken: string; user: { id: string } };

    const me = await fetch(`${base}/api/v1/users/me`, { headers: { Authorization: `Bearer ${tokens.accessToken}` } });
    expect(await me.json()).toMatchObject({ id: tokens.user.id, tronAddress: address, role: "USER" });

    expect((await post("/api/v1/auth/verify", { address, nonce: challenge.nonce, signature })).status).toBe(401);
    const refreshed = await post("/api/v1/auth/refresh", { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await post("/api/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
  });

  it("in production without a mail relay, magic links answer 503 whatever the email", async () => {
    const res = await post("/api/v1/auth/magic-link", { email: "nobody@example.org" });
    expect(res.status).toBe(503);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  });
});
