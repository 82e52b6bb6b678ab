// Issue 16: the request is not the authority. Links, the login message and CORS name the configured
// PUBLIC_ORIGIN whatever the Host; the client address comes from the deployment (here workerd's
// socket peer, request.cf.clientIp), never from a header the client sets.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import app from "../../functions/app.ts";
import { signMessageV2 } from "../../shared/tron/message-signature.ts";
import { getAuthed, newWallet, postJson, setEmail, superAdminLogin, userWithRole } from "./auth-helpers.ts";
import { api, peer, tokenFor } from "./helpers.ts";

const ORIGIN = "https://lucid.test"; // vitest.config.ts PUBLIC_ORIGIN

/** Through the app with configuration overrides (a deployment other than the test default). */
async function fetchWith(overrides: Record<string, string>, path: string, init: RequestInit & { clientIp?: string } = {}) {
  const ctx = createExecutionContext();
  const request = new Request(`https://lucid.test${path}`, { ...init, ...(init.clientIp ? { cf: { clientIp: init.clientIp } } : {}) });
  const res = await app.fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function auditIpOf(response: Response): Promise<string | null> {
  const requestId = response.headers.get("X-Request-Id")!;
  const res = await api(`/api/v1/admin/audit?requestId=${requestId}`, {
    headers: { Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "ADMIN")}` },
  });
  expect(res.status).toBe(200);
  const { items } = await res.json<{ items: { ip: string | null; action: string }[] }>();
  expect(items.length).toBeGreaterThan(0);
  return items[0]!.ip;
}

async function failedLogin(send: (body: unknown) => Promise<Response>) {
  const wallet = newWallet();
  // A well-formed answer to a challenge that was never issued: refused (401) and audited.
  const nonce = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const res = await send({ address: wallet.address, nonce, signature: signMessageV2("not the challenge", wallet.key) });
  expect(res.status).toBe(401);
  return res;
}

describe("PUBLIC_ORIGIN, not Host", () => {
  it("the login message's domain and URI are the configured origin whatever the Host", async () => {
    const wallet = newWallet();
    const res = await api("/api/v1/auth/challenge", {
      method: "POST",
      host: "evil.example",
      headers: { "Content-Type": "application/json", "X-Forwarded-Host": "evil.example" },
      body: JSON.stringify({ address: wallet.address }),
    });
    expect(res.status).toBe(200);
    const challenge = await res.json<{ domain: string; uri: string; message: string }>();
    expect(challenge.domain).toBe("lucid.test");
    expect(challenge.uri).toBe(ORIGIN);
    expect(challenge.message).toMatch(/^lucid\.test wants you to sign in/);
    expect(challenge.message).toContain(`\nURI: ${ORIGIN}\n`);
    expect(challenge.message).not.toContain("evil.example");
  });

  it("the mailed magic link points at the configured origin whatever the Host (no takeover)", async () => {
    const user = await userWithRole("USER");
    const email = `${crypto.randomUUID()}@example.org`;
    await setEmail(user.tokens.accessToken, email);
    const res = await api("/api/v1/auth/magic-link", {
      method: "POST",
      host: "evil.example",
      headers: { "Content-Type": "application/json", "X-Forwarded-Host": "evil.example" },
      body: JSON.stringify({ email }),
    });
    expect(res.status).toBe(202);
    const sa = await superAdminLogin();
    let text = "";
    await vi.waitFor(async () => {
      const outbox = await (
        await getAuthed("/api/v1/auth/outbox?limit=200", sa.accessToken)
      ).json<{ messages: { to: string; text: string }[] }>();
      text = outbox.messages.find((m) => m.to === email)?.text ?? "";
      expect(text).not.toBe("");
    });
    expect(text).toContain(`${ORIGIN}/login/magic#token=`);
    expect(text).not.toContain("evil.example");
  });

  it("CORS allows the public origin, not whatever origin the Host names", async () => {
    const overrides = { CORS_ALLOWED_ORIGINS: "https://gui.example" };
    const preflight = (origin: string) =>
      fetchWith(overrides, "/api/v1/system/services", {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "GET", Host: "evil.example" },
      });
    expect((await preflight(ORIGIN)).headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect((await preflight("https://gui.example")).headers.get("Access-Control-Allow-Origin")).toBe("https://gui.example");
    expect((await preflight("https://evil.example")).headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("the OpenAPI document's server is the configured origin", async () => {
    const doc = await (await api("/api/v1/openapi.json", { host: "evil.example" })).json<{ servers: { url: string }[] }>();
    expect(doc.servers).toEqual([{ url: ORIGIN }]);
  });

  it("a request to another Host is still served", async () => {
    expect((await api("/health", { host: "192.168.1.20:8443" })).status).toBe(200);
  });
});

describe("client address by deployment", () => {
  it("socket source: a forged CF-Connecting-IP is not the audited address; the socket peer is", async () => {
    const res = await failedLogin((body) => postJson("/api/v1/auth/verify", body, { ip: "192.0.2.77" }));
    expect(await auditIpOf(res)).toBe("192.0.2.77");
    const forged = await failedLogin((body) =>
      api("/api/v1/auth/verify", {
        method: "POST",
        ip: "192.0.2.78",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": "203.0.113.9", "X-Forwarded-For": "203.0.113.10" },
        body: JSON.stringify(body),
      }),
    );
    expect(await auditIpOf(forged)).toBe("192.0.2.78");
  });

  it("socket source: rotating CF-Connecting-IP does not give a fresh anonymous quota", async () => {
    const overrides = { RATE_LIMIT_PER_MINUTE: "3" };
    const clientIp = peer("192.0.2.90");
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetchWith(overrides, "/api/v1/openapi.json", { clientIp, headers: { "CF-Connecting-IP": `198.18.0.${i + 1}` } });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it("IPv6 peers are one canonical address, and IPv4-mapped peers are their IPv4 address", async () => {
    const one = await failedLogin((body) => postJson("/api/v1/auth/verify", body, { ip: "2001:DB8:0:0::1" }));
    expect(await auditIpOf(one)).toBe("2001:db8::1");
    const mapped = await failedLogin((body) => postJson("/api/v1/auth/verify", body, { ip: "::ffff:192.0.2.5" }));
    expect(await auditIpOf(mapped)).toBe("192.0.2.5");
  });

  it("cloudflare source: CF-Connecting-IP (set by Cloudflare's edge) is the address", async () => {
    const res = await failedLogin((body) =>
      fetchWith({ CLIENT_ADDRESS_SOURCE: "cloudflare" }, "/api/v1/auth/verify", {
        method: "POST",
        clientIp: peer("192.0.2.80"),
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": "203.0.113.44" },
        body: JSON.stringify(body),
      }),
    );
    expect(await auditIpOf(res)).toBe("203.0.113.44");
  });

  it("X-Forwarded-For counts only from a trusted proxy, walked right to left past trusted hops", async () => {
    const overrides = { TRUSTED_PROXIES: "192.0.2.0/28, 10.0.0.0/8" };
    const send = (clientIp: string, xff: string) => (body: unknown) =>
      fetchWith(overrides, "/api/v1/auth/verify", {
        method: "POST",
        clientIp: peer(clientIp),
        headers: { "Content-Type": "application/json", "X-Forwarded-For": xff },
        body: JSON.stringify(body),
      });
    // From the trusted proxy: the spoofed left-most entry is skipped, the first untrusted hop counts.
    expect(await auditIpOf(await failedLogin(send("192.0.2.3", "6.6.6.6, 198.51.100.23, 10.1.2.3")))).toBe("198.51.100.23");
    // From anyone else: the header is ignored.
    expect(await auditIpOf(await failedLogin(send("192.0.2.200", "198.51.100.24")))).toBe("192.0.2.200");
  });

  it("refuses a malformed TRUSTED_PROXIES or PUBLIC_ORIGIN at configuration load", async () => {
    for (const [name, value] of [
      ["TRUSTED_PROXIES", "10.0.0.1/8"],
      ["TRUSTED_PROXIES", "proxy.example"],
      ["PUBLIC_ORIGIN", "http://lucid.example"],
      ["PUBLIC_ORIGIN", "https://lucid.example/app"],
      ["CLIENT_ADDRESS_SOURCE", "header"],
    ] as const) {
      const res = await fetchWith({ [name]: value }, "/health");
      expect(res.status, `${name}=${value}`).toBe(500);
      const problem = await res.json<{ type: string; errors: { variable: string }[] }>();
      expect(problem.type).toBe("/problems/config-invalid");
      expect(problem.errors.map((e) => e.variable)).toEqual([name]);
    }
  });
});
