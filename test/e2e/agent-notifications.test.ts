// `lucid-agent run` on the notifications stream against a real workerd: an admin (TRON login, TOTP
// step-up on every emergency action) broadcasts, locks down and halts recordings; the real agent
// process logs each notification once, follows the emergency policy, survives the server being
// killed with SIGKILL and restarted, and gets what was sent meanwhile exactly once, also across its
// own restart. What it was told is visible in `lucid-agent status --state`.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { totpCode } from "../../shared/totp.ts";
import { HttpsClient, nodeOperator, superAdminLogin, TronWallet } from "./helpers/lucid-client.ts";
import { startAgent } from "./helpers/agent-process.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-agent-notify-"));
const stateDir = join(work, "state");
const secrets = randomSecrets();
let base = "";
let configPath = "";
let workerd: WorkerdProcess | undefined;
let client: HttpsClient;
const children: ChildProcess[] = [];

/** Admins that passed TOTP step-up; each emergency action spends one of their second factors. */
interface SteppedUpAdmin {
  token: string;
  secret: string;
  recoveryCodes: string[];
  lastStep: number;
}
const admins: SteppedUpAdmin[] = [];

/** A token and one second factor: a TOTP code once per 30 s step, else a recovery code, of the first admin with one left. */
function stepUp(): { token: string; factor: { totpCode: string } | { recoveryCode: string } } {
  const step = Math.floor(Date.now() / 30_000);
  for (const a of admins) {
    if (step > a.lastStep) {
      a.lastStep = step;
      return { token: a.token, factor: { totpCode: totpCode(a.secret, Date.now() / 1000) } };
    }
    const code = a.recoveryCodes.shift();
    if (code) return { token: a.token, factor: { recoveryCode: code } };
  }
  throw new Error("every admin is out of second factors");
}

/** A second ADMIN (role granted by the super admin with a second factor), TOTP enrolled, logged in with a recovery code. */
async function anotherAdmin(): Promise<SteppedUpAdmin> {
  const wallet = await TronWallet.create();
  const first = await wallet.login(client);
  const { token, factor } = stepUp(); // only the super admin is in `admins` yet
  await client.expect(200, "PUT", `/api/v1/users/${first.user.id}/role`, { token, json: { role: "ADMIN", ...factor } });
  const again = await wallet.login(client);
  const { secret } = await client.expect<{ secret: string }>(200, "POST", "/api/v1/auth/totp/enrol", {
    token: again.accessToken,
    json: {},
  });
  const { recoveryCodes } = await client.expect<{ recoveryCodes: string[] }>(200, "POST", "/api/v1/auth/totp/confirm", {
    token: again.accessToken,
    json: { code: totpCode(secret, Date.now() / 1000) },
  });
  const full = await wallet.login(client, { recoveryCode: recoveryCodes[0] });
  return { token: full.accessToken, secret, recoveryCodes: recoveryCodes.slice(1), lastStep: Math.floor(Date.now() / 30_000) };
}

async function broadcast(title: string, audience: "agents" | "all" | "clients" = "agents"): Promise<number> {
  const { token, factor } = stepUp();
  const sent = await client.expect<{ id: number }>(201, "POST", "/api/v1/admin/emergency/notifications", {
    token,
    json: { audience, severity: "warning", title, body: `${title}: details`, ...factor },
  });
  return sent.id;
}

async function emergency(path: "lockdown" | "recordings", active: boolean, reason: string) {
  const { token, factor } = stepUp();
  await client.expect(200, "POST", `/api/v1/admin/emergency/${path}`, {
    token,
    json: { active, reason, ...(path === "recordings" && active ? { stopActive: true } : {}), ...factor },
  });
}

function agent(args: string[]) {
  return startAgent(args, children, 60_000);
}

/** The ids of the notifications the agent acted on, in order, from its structured log lines. */
function handled(output: string): number[] {
  return [...output.matchAll(/^notification (\{.*\})$/gm)].map((m) => (JSON.parse(m[1]!) as { id: number }).id);
}

async function status(): Promise<{
  cursor: number;
  emergency: Record<string, { active: boolean; reason: string | null }>;
  notices: { key: string; title: string; retracted: boolean }[];
}> {
  const run = agent(["status", "--state", stateDir, "--json"]);
  expect(await run.exited, run.output()).toBe(0);
  return JSON.parse(run.output());
}

beforeAll(async () => {
  const admin = await TronWallet.create();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ({ configPath } = buildOnLoopback(work, port, {
    vars: {
      BOOTSTRAP_SUPER_ADMIN_ADDRESS: admin.address,
      NODE_MIN_CPU_CORES: "1",
      NODE_MIN_MEMORY_MB: "256",
      NODE_MIN_DISK_GB: "1",
      LOG_LEVEL: "warn",
    },
  }));
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 30_000);
  client = new HttpsClient(base, "");
  const login = await superAdminLogin(client, admin);
  admins.push({
    token: login.full.accessToken,
    secret: login.secret,
    recoveryCodes: login.recoveryCodes,
    lastStep: Math.floor(Date.now() / 30_000),
  });
  admins.push(await anotherAdmin());
  const operator = await nodeOperator(client, login.full.accessToken);
  const tokenFile = join(work, "operator.token");
  writeFileSync(tokenFile, operator.login.accessToken);
  const enrol = agent([
    "enroll",
    "--server",
    base,
    "--payout-address",
    operator.wallet.address,
    "--bandwidth-mbps",
    "100",
    "--state",
    stateDir,
    "--operator-token-file",
    tokenFile,
  ]);
  expect(await enrol.exited, enrol.output()).toBe(0);
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await workerd?.stop();
  await client?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("lucid-agent run on the notifications stream", () => {
  let daemon: ReturnType<typeof agent>;
  let before = 0;
  let during = 0;

  it("first connection: earlier broadcasts are history, not news; a new one is logged once as a structured line", async () => {
    before = await broadcast("Sent before the agent listened");
    daemon = agent(["run", "--state", stateDir, "--heartbeat-seconds", "1"]);
    await daemon.waitFor(/notifications connected \(first time; newest \d+\)/);
    await daemon.waitFor(/notifications: first connection; 1 earlier broadcasts kept for status, following from id \d+/);
    during = await broadcast("Firmware update tonight");
    await daemon.waitFor((out) => handled(out).includes(during), `notification ${during}`);
    const line = /^notification (\{.*"id":\d+.*\})$/m.exec(daemon.output())![1]!;
    expect(JSON.parse(line)).toEqual({
      id: during,
      at: expect.any(String),
      audience: "agents",
      severity: "warning",
      title: "Firmware update tonight",
      body: "Firmware update tonight: details",
    });
    expect(handled(daemon.output())).toEqual([during]); // not the one sent before it listened
    const s = await status();
    expect(s.cursor).toBe(during);
    expect(s.notices.map((n) => n.key)).toEqual([`broadcast:${before}`, `broadcast:${during}`]);
  }, 120_000);

  it("lockdown holds heartbeats (the server refuses node writes) until it is lifted", async () => {
    await daemon.waitFor(/heartbeat \d+ accepted/);
    await emergency("lockdown", true, "incident 7: key rotation");
    await daemon.waitFor(/^emergency \{"control":"lockdown","active":true,"reason":"incident 7: key rotation"/m, "the lockdown");
    await daemon.waitFor(/heartbeats held: lockdown/);
    expect((await status()).emergency.lockdown).toMatchObject({ active: true, reason: "incident 7: key rotation" });
    const held = daemon.output().length;
    await emergency("lockdown", false, "incident 7 closed");
    await daemon.waitFor(/heartbeats resumed: lockdown lifted/);
    await daemon.waitFor((out) => /heartbeat \d+ accepted/.test(out.slice(held)), "a heartbeat after the lift");
    // Not one beat between held and resumed.
    const heldSpan = /heartbeats held: lockdown[^]*?heartbeats resumed/.exec(daemon.output())![0];
    expect(heldSpan).not.toMatch(/heartbeat \d+ (accepted|failed)/);
    expect((await status()).emergency.lockdown?.active).toBe(false);
  }, 120_000);

  it("stop all recordings: the agent stops (there is none) and remembers it", async () => {
    await emergency("recordings", true, "storage incident");
    await daemon.waitFor(/emergency policy: writes allowed; recordings halted: local recordings stopped, spool kept/);
    expect((await status()).emergency.recordings_halted).toMatchObject({ active: true, reason: "storage incident" });
  }, 60_000);

  it("after the server is killed (-9) and restarted, gets what was sent meanwhile exactly once, and the state changed meanwhile", async () => {
    await workerd!.stop("SIGKILL");
    await daemon.waitFor(/notifications closed \(\d+[^)]*\); reconnecting in \d+ ms/);
    daemon.child.kill("SIGSTOP"); // cannot reconnect before the server has sent what it must catch up on
    try {
      workerd = startWorkerd(configPath, { env: secrets });
      await waitForWorkerd(workerd, `${base}/health`, 30_000);
      const meanwhile = [await broadcast("Meanwhile one"), await broadcast("Meanwhile two", "all")];
      await broadcast("For clients only", "clients");
      meanwhile.push(await broadcast("Meanwhile three"));
      await emergency("recordings", false, "storage replaced");
      const mark = daemon.output().length;
      daemon.child.kill("SIGCONT");
      await daemon.waitFor(new RegExp(`notifications connected \\(resuming after ${during}; newest \\d+\\)`), "the resumed stream", 90_000);
      await daemon.waitFor((out) => meanwhile.every((id) => handled(out).includes(id)), "the notifications sent meanwhile");
      await daemon.waitFor(
        (out) => out.slice(mark).includes("emergency policy: writes allowed; recordings allowed"),
        "halted recordings lifted (learned from the hello)",
      );
      expect(handled(daemon.output())).toEqual([during, ...meanwhile]); // each once, in order, none for clients
      expect((await status()).cursor).toBe(meanwhile.at(-1));
    } finally {
      daemon.child.kill("SIGCONT");
    }
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited, daemon.output()).toBe(0);
  }, 180_000);

  it("a restarted agent resumes after its saved cursor: nothing again, nothing lost; a retraction is marked", async () => {
    const cursor = (await status()).cursor;
    const missed = await broadcast("While the agent was down");
    const { token: retractor, factor: retractFactor } = stepUp();
    await client.expect(200, "POST", `/api/v1/admin/emergency/notifications/${during}/retract`, { token: retractor, json: retractFactor });
    const again = agent(["run", "--state", stateDir, "--no-channel", "--heartbeat-seconds", "5"]);
    await again.waitFor(new RegExp(`notifications connected \\(resuming after ${cursor}; newest ${missed}\\)`));
    await again.waitFor((out) => handled(out).includes(missed), `notification ${missed}`);
    expect(handled(again.output())).toEqual([missed]);
    // The retraction it missed came with the hello.
    expect(again.output()).toMatch(
      new RegExp(`^retraction \\{"id":${during},"at":null,"title":"Firmware update tonight","whileAway":true,"closedOn":\\[\\]\\}$`, "m"),
    );
    expect((await status()).notices.find((n) => n.key === `broadcast:${during}`)).toMatchObject({ retracted: true });
    const { token, factor } = stepUp();
    await client.expect(200, "POST", `/api/v1/admin/emergency/notifications/${missed}/retract`, { token, json: factor });
    await again.waitFor(new RegExp(`^retraction \\{"id":${missed},`, "m"), "the retraction");
    expect((await status()).notices.find((n) => n.key === `broadcast:${missed}`)).toMatchObject({
      title: "While the agent was down",
      retracted: true,
    });
    const text = agent(["status", "--state", stateDir]);
    expect(await text.exited).toBe(0);
    expect(text.output()).toMatch(/lockdown\s+off/);
    expect(text.output()).toMatch(new RegExp(`#${missed} While the agent was down: .*retracted\\]`));
    again.child.kill("SIGTERM");
    expect(await again.exited, again.output()).toBe(0);
  }, 120_000);
});
