// `lucid-agent enroll` and `lucid-agent run` (heartbeats) against a real workerd running the
// self-hosted build: registration, the 0600 state file, signed beats, sequence resync, revocation.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { startAgent } from "./helpers/agent-process.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const PAYOUT = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC";
const work = mkdtempSync(join(tmpdir(), "lucid-agent-node-"));
const stateDir = join(work, "state");
const secrets = randomSecrets();
const OPERATOR = "op-agent-e2e";
let base = "";
let workerd: WorkerdProcess | undefined;
const agents: ChildProcess[] = [];

async function accessToken(role: "NODE_OPERATOR" | "USER", sub = OPERATOR) {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub, role, iat: now, exp: now + 900 }, secrets.JWT_SECRET_KEY, "HS256");
}

function agent(args: string[]) {
  return startAgent(args, agents, 40_000);
}

async function asOperator(path: string, init: RequestInit = {}) {
  return fetch(`${base}${path}`, { ...init, headers: { Authorization: `Bearer ${await accessToken("NODE_OPERATOR")}` } });
}

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // The test machine may have fewer cores than a Pi 5: the minimum is lowered to what any machine has.
  const { configPath } = buildOnLoopback(work, port, {
    vars: { NODE_MIN_CPU_CORES: "1", NODE_MIN_MEMORY_MB: "256", NODE_MIN_DISK_GB: "1" },
  });
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 30_000);
});

afterAll(async () => {
  for (const child of agents) if (child.exitCode === null) child.kill("SIGKILL");
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("lucid-agent enroll and run against the node API", () => {
  const tokenFile = join(work, "operator.token");
  const enrollArgs = [
    "enroll",
    "--payout-address",
    PAYOUT,
    "--bandwidth-mbps",
    "100",
    "--state",
    stateDir,
    "--operator-token-file",
    tokenFile,
  ];
  let nodeId = "";

  it("refuses a token without the NODE_OPERATOR role with exit 77 and the server's reason", async () => {
    writeFileSync(tokenFile, await accessToken("USER"));
    const run = agent([...enrollArgs, "--server", base]);
    expect(await run.exited, run.output()).toBe(77);
    expect(run.output()).toMatch(/registration refused \(HTTP 403\)/);
  });

  it("enrols: Ed25519 key and credential in a 0600 state file, node registered with that key", async () => {
    writeFileSync(tokenFile, await accessToken("NODE_OPERATOR"));
    const run = agent([...enrollArgs, "--server", base]);
    expect(await run.exited, run.output()).toBe(0);
    nodeId = (await run.waitFor(/enrolled as (node_[0-9a-f-]{36}) in pool-\d+/))[1]!;
    expect(statSync(join(stateDir, "node.json")).mode & 0o777).toBe(0o600);
    const state = JSON.parse(readFileSync(join(stateDir, "node.json"), "utf8"));
    expect(state).toMatchObject({ nodeId, server: base, payoutAddress: PAYOUT, credential: { header: "X-Node-Credential" } });
    expect(state.secretKey).toMatch(/^[0-9a-f]{64}$/);
    const res = await asOperator(`/api/v1/nodes/${nodeId}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { node: { publicKey: string; operatorId: string; resources: { bandwidthMbps: number } } };
    expect(body.node).toMatchObject({ publicKey: state.publicKey, operatorId: OPERATOR, resources: { bandwidthMbps: 100 } });
  });

  it("will not overwrite an enrolled node without --force", async () => {
    const run = agent([...enrollArgs, "--server", base]);
    expect(await run.exited).toBe(64);
    expect(run.output()).toMatch(/already holds an enrolled node/);
  });

  it("an unreachable server is exit 69", async () => {
    const run = agent([...enrollArgs, "--server", `http://127.0.0.1:${await freePort()}`, "--state", join(work, "other")]);
    expect(await run.exited, run.output()).toBe(69);
    expect(run.output()).toMatch(/is unreachable/);
  });

  it("run sends signed heartbeats the pool accepts; the node becomes active with the report", async () => {
    const run = agent(["run", "--state", stateDir, "--no-channel", "--heartbeat-seconds", "0.2"]);
    const accepted = await run.waitFor(/heartbeat 3 accepted \(node (\w+)\)/);
    run.child.kill("SIGTERM");
    expect(await run.exited, run.output()).toBe(0);
    const { node } = (await (await asOperator(`/api/v1/nodes/${nodeId}`)).json()) as {
      node: { state: string; lastSeq: number; lastReport: Record<string, unknown> };
    };
    expect(node.state).toBe(accepted[1]);
    expect(node.state).toBe("active"); // online and accepting sessions
    expect(node.lastSeq).toBeGreaterThanOrEqual(3);
    expect(node.lastReport).toMatchObject({ sessionsHosted: 0, accepting: true });
    expect(node.lastReport.memoryPercent).toEqual(expect.any(Number));
  });

  it("after a restart it continues the sequence; with its counter lost it resynchronises from the pool", async () => {
    const seq = JSON.parse(readFileSync(join(stateDir, "heartbeat.json"), "utf8")).seq as number;
    const again = agent(["run", "--state", stateDir, "--no-channel", "--heartbeat-seconds", "60"]);
    await again.waitFor(new RegExp(`heartbeat ${seq + 1} accepted`));
    again.child.kill("SIGTERM");
    expect(await again.exited).toBe(0);

    unlinkSync(join(stateDir, "heartbeat.json"));
    const lost = agent(["run", "--state", stateDir, "--no-channel", "--heartbeat-seconds", "60"]);
    await lost.waitFor(new RegExp(`continuing at ${seq + 2}`));
    await lost.waitFor(new RegExp(`heartbeat ${seq + 2} accepted`));
    lost.child.kill("SIGTERM");
    expect(await lost.exited).toBe(0);
  });

  it("a revoked credential stops the daemon with exit 77 and says what to do", async () => {
    const { credential } = JSON.parse(readFileSync(join(stateDir, "node.json"), "utf8"));
    const revoked = await asOperator(`/api/v1/nodes/${nodeId}/credentials/${credential.jti}`, { method: "DELETE" });
    expect(revoked.status).toBeLessThan(300);
    const run = agent(["run", "--state", stateDir, "--no-channel"]);
    expect(await run.exited, run.output()).toBe(77);
    expect(run.output()).toMatch(/heartbeat refused \(HTTP 401\).*issue a new credential/);
  });

  it("run without an enrolment is a usage error", async () => {
    const run = agent(["run", "--state", join(work, "empty")]);
    expect(await run.exited).toBe(64);
    expect(run.output()).toMatch(/no enrolled node/);
  });
});
