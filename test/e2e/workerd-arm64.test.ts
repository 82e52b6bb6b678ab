// The arm64 workerd build a Pi 5 runs (@cloudflare/workerd-linux-arm64, the version and integrity
// package-lock.json pins) serving the generated self-hosted config under qemu-aarch64 user
// emulation: /health and one Durable Object request. Slow (emulated V8), so its own group: arm64.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, ROOT, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { JwtKeyring } from "../../shared/jwt.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const PACKAGE = "@cloudflare/workerd-linux-arm64";
const work = mkdtempSync(join(tmpdir(), "lucid-arm64-"));
const secrets = randomSecrets();
let base = "";
let workerd: WorkerdProcess | undefined;

/** The arm64 binary, fetched once with `npm pack` (no install, the lock untouched) and checked against the lock's integrity. */
function arm64Workerd(): string {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string; integrity: string }>;
  };
  const { version, integrity } = lock.packages[`node_modules/${PACKAGE}`]!;
  const dir = join(ROOT, ".cache", "workerd-arm64");
  const tgz = join(dir, `cloudflare-workerd-linux-arm64-${version}.tgz`);
  const bin = join(dir, version, "package", "bin", "workerd");
  if (existsSync(bin)) return bin;
  mkdirSync(join(dir, version), { recursive: true });
  if (!existsSync(tgz)) execFileSync("npm", ["pack", `${PACKAGE}@${version}`, "--pack-destination", dir], { stdio: "ignore" });
  const digest = `sha512-${createHash("sha512").update(readFileSync(tgz)).digest("base64")}`;
  if (digest !== integrity) throw new Error(`${tgz} does not match package-lock.json's integrity (${digest} vs ${integrity})`);
  execFileSync("tar", ["xzf", tgz, "-C", join(dir, version)]);
  return bin;
}

beforeAll(async () => {
  const bin = arm64Workerd();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port);
  workerd = startWorkerd(configPath, { env: secrets, command: ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", bin] });
  await waitForWorkerd(workerd, `${base}/health`, 240_000);
}, 300_000);

afterAll(async () => {
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("arm64 workerd under qemu-aarch64", () => {
  it("serves /health", async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "up" });
  });

  it("answers a Durable Object request (the system services report)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await (
      await JwtKeyring.create(secrets.JWT_SECRET_KEY)
    ).sign({ sub: "arm64", role: "ADMIN", typ: "access", iat: now, exp: now + 600 });
    const res = await fetch(`${base}/api/v1/system/services`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const report = (await res.json()) as { functions: { name: string; status: string }[] };
    expect(report.functions.find((f) => f.name === "system")?.status).toBe("up");
  }, 180_000);
});
