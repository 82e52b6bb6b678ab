// End to end against a real workerd process running the generated self-hosted config.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { JwtKeyring } from "../../shared/jwt.ts";
import { certificatePins, generateSelfSigned } from "../../edge-adapter/tls.ts";
import { dataLayout } from "../../edge-adapter/workerd-config.ts";
import { freePort, ROOT, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-"));
const secrets = randomSecrets();
let base = "";
let httpsBase = "";
const legacy = { gateway: "", system: "" };
let configPath = "";
let trusted: Agent;
let certPem = "";
let workerd: WorkerdProcess | undefined;

/** Operations endpoints need ADMIN: an access token as functions/auth issues them, signed with this server's secret. */
async function asAdmin(): Promise<{ Authorization: string }> {
  const now = Math.floor(Date.now() / 1000);
  const token = await (
    await JwtKeyring.create(secrets.JWT_SECRET_KEY)
  ).sign({ sub: "e2e-admin", role: "ADMIN", typ: "access", iat: now, exp: now + 300 });
  return { Authorization: `Bearer ${token}` };
}

async function start(env: Record<string, string | undefined> = secrets, anyStatus = false) {
  workerd = startWorkerd(configPath, { env });
  await waitForWorkerd(workerd, `${base}/health`, 20_000, anyStatus);
}

beforeAll(async () => {
  const [port, httpsPort, gatewayPort, systemPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  base = `http://127.0.0.1:${port}`;
  httpsBase = `https://localhost:${httpsPort}`;
  legacy.gateway = `http://127.0.0.1:${gatewayPort}`;
  legacy.system = `http://127.0.0.1:${systemPort}`;
  const tlsDir = join(work, "tls");
  const tls = generateSelfSigned(tlsDir, { hostnames: ["lucid.test"] });
  certPem = readFileSync(tls.certPath, "utf8");
  // Trust exactly this self-signed certificate, as a pinned GUI would; nothing is disabled.
  trusted = new Agent({ connect: { ca: certPem } });
  ({ configPath } = buildOnLoopback(work, port, {
    https: { address: `127.0.0.1:${httpsPort}`, tlsDir },
    legacy: {
      host: "127.0.0.1",
      // Two ports of the map on free ports: the gateway (unchanged paths) and one routed onto a surface
      // that exists on every branch (system), so the rewrite itself is observable.
      ports: [
        { name: "gateway", port: gatewayPort, target: "/api/v1" },
        { name: "system", port: systemPort, target: "/api/v1/system" },
      ],
    },
  }));
  await start();
});

afterAll(async () => {
  await workerd?.stop();
  await trusted?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("self-hosted workerd", () => {
  it("serves /health and the OpenAPI document", async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "up" });
    const doc = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toBe("3.1.0");
  });

  it("answers bad input with problem+json", async () => {
    const res = await fetch(`${base}/api/v1/system/services/check`, {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "application/json" },
      body: "{",
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  });

  it("keeps Durable Object state across a kill -9 and restart", async () => {
    const report = (await (await fetch(`${base}/api/v1/system/services`, { headers: await asAdmin() })).json()) as {
      functions: { name: string; status: string; checkedAt: string }[];
    };
    const system = report.functions.find((f) => f.name === "system")!;
    expect(system.status).toBe("up");
    await workerd!.stop("SIGKILL");
    await start();
    const after = await fetch(`${base}/api/v1/system/services/system`, { headers: await asAdmin() });
    expect(after.status).toBe(200);
    expect(((await after.json()) as { checkedAt: string }).checkedAt).toBe(system.checkedAt);
  });

  it("without its secret, every request gets a config-invalid problem naming it", async () => {
    await workerd!.stop();
    await start({ ...secrets, JWT_SECRET_KEY: undefined }, true);
    const res = await fetch(`${base}/api/v1/system/services`);
    expect(res.status).toBe(500);
    const problem = (await res.json()) as { type: string; errors: unknown };
    expect(problem.type).toBe("/problems/config-invalid");
    expect(problem.errors).toEqual([{ variable: "JWT_SECRET_KEY", message: "is missing" }]);
    await workerd!.stop();
    await start();
  });

  it("pi:start refuses to start without the secret, naming it", () => {
    const env = { ...process.env };
    delete env.JWT_SECRET_KEY;
    const run = spawnSync(process.execPath, [join(ROOT, "edge-adapter", "start.ts"), configPath], { env, encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("JWT_SECRET_KEY");
    // The systemd unit's ExecStartPre: checks only, then exits.
    const check = (environment: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [join(ROOT, "edge-adapter", "start.ts"), "--check-only", configPath], {
        env: environment,
        encoding: "utf8",
      });
    expect(check(env).status).toBe(2);
    expect(check({ ...env, ...secrets }).status).toBe(0);
  });

  it("serves HTTPS with the generated certificate, which a client trusting only it accepts", async () => {
    const res = await undiciFetch(`${httpsBase}/health`, { dispatcher: trusted });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "up" });
    const ip = await undiciFetch(`${httpsBase.replace("localhost", "127.0.0.1")}/api/v1/openapi.json`, { dispatcher: trusted });
    expect(ip.status).toBe(200);
    const pins = certificatePins(certPem);
    expect(pins.subjectAltName).toContain("DNS:lucid.test");
    expect(pins.fingerprint).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
  });

  it("refuses an HTTPS client that does not trust the certificate", async () => {
    await expect(fetch(`${httpsBase}/health`)).rejects.toThrow();
  });

  it("reports the chunk store as the self-hosted disk service CHUNK_DISK", async () => {
    const res = await undiciFetch(`${httpsBase}/api/v1/system/services/check`, {
      method: "POST",
      headers: { ...(await asAdmin()), "Content-Type": "application/json" },
      body: JSON.stringify({ services: ["chunk-store"] }),
      dispatcher: trusted,
    });
    const body = (await res.json()) as { functions: { name: string; status: string; detail: string | null }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.functions.find((f) => f.name === "chunk-store")).toMatchObject({ status: "up", detail: "disk service CHUNK_DISK" });
  });

  it("reports the chunk store down when its directory is gone", async () => {
    const chunks = dataLayout(join(work, "data")).chunks;
    rmSync(chunks, { recursive: true });
    try {
      const res = await fetch(`${base}/api/v1/system/services/check`, {
        method: "POST",
        headers: { ...(await asAdmin()), "Content-Type": "application/json" },
        body: JSON.stringify({ services: ["chunk-store"] }),
      });
      const body = (await res.json()) as { functions: { name: string; status: string }[] };
      expect(body.functions.find((f) => f.name === "chunk-store")?.status).toBe("down");
    } finally {
      mkdirSync(chunks);
    }
  });

  it("routes the legacy ports: the gateway port unchanged, a service port onto its surface", async () => {
    const gateway = await fetch(`${legacy.gateway}/api/v1/system/services/gateway`, { headers: await asAdmin() });
    expect(gateway.status).toBe(200);
    expect(await gateway.json()).toMatchObject({ name: "gateway" });
    // The seed GUI called <port>/api/v1/<path>; on the system port that is /api/v1/system/<path>.
    // (Operations endpoints need ADMIN: an anonymous caller reaching the route gets its 401.)
    const mapped = await fetch(`${legacy.system}/api/v1/services/gateway`);
    expect(mapped.status).toBe(401);
    expect(mapped.headers.get("Content-Type")).toBe("application/problem+json");
    const already = await fetch(`${legacy.system}/api/v1/system/services/gateway`);
    expect(already.status).toBe(401);
    const health = await fetch(`${legacy.system}/health`);
    expect(await health.json()).toEqual({ status: "up" });
    const missing = await fetch(`${legacy.system}/api/v1/nothing-here`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { instance: string }).instance).toBe("/api/v1/system/nothing-here");
  });
});
