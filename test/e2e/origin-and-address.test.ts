// Issue 16 on the real self-hosted workerd process: the request is not the authority. The mailed
// link and the signed login message name PUBLIC_ORIGIN whatever the Host; the client address is
// workerd's socket peer, so a forged CF-Connecting-IP neither resets a quota nor reaches the audit log.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { TronWeb, Trx } from "tronweb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const ORIGIN = "https://lucid.example";
const ANONYMOUS_LIMIT = 10;
const work = mkdtempSync(join(tmpdir(), "lucid-e2e-origin-"));
const secrets = randomSecrets();
const mails: { to: string; text: string }[] = [];
let port = 0;
let workerd: WorkerdProcess | undefined;
let relay: Server | undefined;

beforeAll(async () => {
  // The mail relay (MAIL_WEBHOOK_URL): what a production deployment sends magic links through.
  relay = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      mails.push(JSON.parse(body) as { to: string; text: string });
      res.writeHead(202).end();
    });
  });
  const relayPort = await freePort();
  await new Promise<void>((resolve) => relay!.listen(relayPort, "127.0.0.1", resolve));
  port = await freePort();
  const { configPath } = buildOnLoopback(work, port, {
    publicOrigin: ORIGIN,
    outboundAllow: ["local"],
    vars: { RATE_LIMIT_PER_MINUTE: String(ANONYMOUS_LIMIT), MAIL_WEBHOOK_URL: `http://127.0.0.1:${relayPort}/mail` },
  });
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `http://127.0.0.1:${port}/health`, 20_000);
});

afterAll(async () => {
  await workerd?.stop();
  await new Promise((resolve) => relay?.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

/** node:http, so the test can send any Host (fetch sets it from the URL). */
function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: () => unknown }>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: init.method ?? (body ? "POST" : "GET"),
        headers: { ...(body ? { "Content-Type": "application/json" } : {}), ...init.headers },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, json: () => JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const evil = { Host: "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http" };

async function loginNewWallet() {
  const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
  const address = account.address.base58;
  const { message, nonce } = (await send("/api/v1/auth/challenge", { body: { address } })).json() as { message: string; nonce: string };
  const verify = await send("/api/v1/auth/verify", { body: { address, nonce, signature: Trx.signMessageV2(message, account.privateKey) } });
  expect(verify.status).toBe(200);
  return (verify.json() as { accessToken: string }).accessToken;
}

async function auditedIp(requestId: string): Promise<string | null> {
  const now = Math.floor(Date.now() / 1000);
  const token = await sign({ sub: crypto.randomUUID(), role: "ADMIN", iat: now, exp: now + 300 }, secrets.JWT_SECRET_KEY, "HS256");
  const res = await send(`/api/v1/admin/audit?requestId=${requestId}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const { items } = res.json() as { items: { ip: string | null }[] };
  expect(items).toHaveLength(1);
  return items[0]!.ip;
}

describe("self-hosted: PUBLIC_ORIGIN, not Host", () => {
  it("the login message names the configured origin whatever the Host", async () => {
    const challenge = await send("/api/v1/auth/challenge", { headers: evil, body: { address: "TDvSsdrNM5eeXNL3czpa6AxLDHZA9nwe9K" } });
    expect(challenge.status).toBe(200);
    const { domain, uri, message } = challenge.json() as { domain: string; uri: string; message: string };
    expect({ domain, uri }).toEqual({ domain: "lucid.example", uri: ORIGIN });
    expect(message).toMatch(/^lucid\.example wants you to sign in/);
    expect(message).toContain(`\nURI: ${ORIGIN}\n`);
    expect(message).not.toContain("evil.example");
  });

  it("the mailed magic link points at the configured origin whatever the Host", async () => {
    const token = await loginNewWallet();
    const email = `${crypto.randomUUID()}@example.org`;
    const auth = { Authorization: `Bearer ${token}` };
    expect((await send("/api/v1/users/me", { method: "PATCH", headers: auth, body: { email } })).status).toBe(200);
    // The address becomes the account's once the mailed confirmation token comes back.
    const confirmation = await vi.waitFor(() => {
      const found = mails.find((m) => m.to === email && /email\/confirm/.test(m.text));
      expect(found).toBeDefined();
      return found!;
    });
    const confirmToken = confirmation.text.split("\n\n")[1]!.trim();
    expect((await send("/api/v1/users/me/email/confirm", { headers: auth, body: { token: confirmToken } })).status).toBe(200);
    expect((await send("/api/v1/auth/magic-link", { headers: evil, body: { email } })).status).toBe(202);
    const mail = await vi.waitFor(() => {
      const found = mails.find((m) => m.to === email && m.text.includes("/login/magic"));
      expect(found).toBeDefined();
      return found!;
    });
    expect(mail.text).toContain(`${ORIGIN}/login/magic#token=`);
    expect(mail.text).not.toContain("evil.example");
  });
});

describe("self-hosted: the client address is workerd's socket peer", () => {
  it("a forged CF-Connecting-IP or X-Forwarded-For does not reach the audit log", async () => {
    const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
    const failed = await send("/api/v1/auth/verify", {
      headers: { "CF-Connecting-IP": "203.0.113.66", "X-Forwarded-For": "203.0.113.67" },
      // A well-formed answer to a challenge that was never issued.
      body: {
        address: account.address.base58,
        nonce: "0123456789abcdef0123456789abcdef",
        signature: Trx.signMessageV2("not the challenge", account.privateKey),
      },
    });
    expect(failed.status).toBe(401);
    expect(await auditedIp(String(failed.headers["x-request-id"]))).toBe("127.0.0.1");
  });

  it("rotating a forged CF-Connecting-IP does not give a fresh anonymous quota", async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= ANONYMOUS_LIMIT + 1; i++) {
      statuses.push((await send("/api/v1/openapi.json", { headers: { "CF-Connecting-IP": `198.18.${i}.${i}` } })).status);
    }
    // Earlier tests spent part of loopback's quota in this window: a 429 comes no later than the
    // last request, and every request after the first 429 is refused as well.
    const first = statuses.indexOf(429);
    expect(first, statuses.join(",")).toBeGreaterThanOrEqual(0);
    expect(
      statuses.slice(first).every((status) => status === 429),
      statuses.join(","),
    ).toBe(true);
  });
});
