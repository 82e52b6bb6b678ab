// End to end against a real workerd process running the generated self-hosted config.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSelfHosted } from "../../edge-adapter/build.ts";
import { freePort, ROOT, startWorkerd, waitForHttp, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-"));
const secret = randomBytes(32).toString("hex");
const kek = randomBytes(32).toString("hex");
let base = "";
let configPath = "";
let workerd: WorkerdProcess | undefined;

async function start(env: Record<string, string | undefined> = { JWT_SECRET_KEY: secret, SESSION_KEK: kek }, anyStatus = false) {
  workerd = startWorkerd(configPath, { env });
  await waitForHttp(`${base}/health`, 20_000, anyStatus).catch((error) => {
    throw new Error(`${error.message}\n${workerd?.output()}`);
  });
}

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ({ configPath } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "out"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${port}`,
  }));
  await start();
});

afterAll(async () => {
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("self-hosted workerd", () => {
  it("serves /health and the OpenAPI document", async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", environment: "production" });
    const doc = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toBe("3.1.0");
  });

  it("answers bad input with problem+json", async () => {
    const res = await fetch(`${base}/api/v1/system/services/check`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{",
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  });

  it("keeps Durable Object state across a kill -9 and restart", async () => {
    const report = (await (await fetch(`${base}/api/v1/system/services`)).json()) as {
      functions: { name: string; status: string; checkedAt: string }[];
    };
    const system = report.functions.find((f) => f.name === "system")!;
    expect(system.status).toBe("up");
    await workerd!.stop("SIGKILL");
    await start();
    const after = await fetch(`${base}/api/v1/system/services/system`);
    expect(after.status).toBe(200);
    expect(((await after.json()) as { checkedAt: string }).checkedAt).toBe(system.checkedAt);
  });

  it("without its secret, every request gets a config-invalid problem naming it", async () => {
    await workerd!.stop();
    await start({ JWT_SECRET_KEY: undefined, SESSION_KEK: kek }, true);
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
  });
});
