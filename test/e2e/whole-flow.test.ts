// The whole flow on a real workerd running the generated self-hosted config, over HTTPS with only the
// generated certificate trusted: TRON logins → a node enrolled through the nodes API → a session →
// the real agent records an Xvfb display and uploads (workerd is killed -9 in the middle of an
// upload and restarted) → stop (workerd killed -9 again, alarms carry on) → anchored in a block →
// evidence bundle → `lucid verify` passes; one flipped byte in the chunk store on disk → it fails,
// naming the chunk.
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { generateSelfSigned } from "../../edge-adapter/tls.ts";
import { dataLayout } from "../../edge-adapter/workerd-config.ts";
import { freePort, ROOT, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { decodeRecording } from "../../shared/recording/index.ts";
import { until } from "../node/helpers/until.ts";
import { startPainter, startXvfb, type Xvfb } from "../node/helpers/xvfb.ts";
import { HttpsClient, nodeOperator, registerNode, superAdminLogin, TronWallet, type Login } from "./helpers/lucid-client.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const AGENT = join(ROOT, "pi-agent", "bin", "lucid-agent.ts");
const LUCID = join(ROOT, "scripts", "lucid.ts");
const DISPLAYS = [170, 171, 172, 173, 174, 175, 176, 177, 178, 179];
const W = 320;
const H = 240;

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-flow-"));
const secrets = randomSecrets();
const chunkStore = dataLayout(join(work, "data")).chunks;
let configPath = "";
let httpBase = "";
let httpsPort = 0;
let certPath = "";
let client: HttpsClient;
let workerd: WorkerdProcess | undefined;
let xvfb: Xvfb | undefined;
const admin = { wallet: undefined as unknown as TronWallet, token: "" };

async function startServer() {
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${httpBase}/health`, 30_000);
}

async function killServer() {
  await workerd!.stop("SIGKILL");
}

beforeAll(async () => {
  let port: number;
  [port, httpsPort] = await Promise.all([freePort(), freePort()]);
  httpBase = `http://127.0.0.1:${port}`;
  const tlsDir = join(work, "tls");
  ({ certPath } = generateSelfSigned(tlsDir, { hostnames: [] }));
  admin.wallet = await TronWallet.create();
  ({ configPath } = buildOnLoopback(work, port, {
    https: { address: `127.0.0.1:${httpsPort}`, tlsDir },
    // One-second slots keep the anchoring wait short; the first login of this address is the SUPER_ADMIN.
    vars: { BLOCK_INTERVAL_SECONDS: "1", BOOTSTRAP_SUPER_ADMIN_ADDRESS: admin.wallet.address, LOG_LEVEL: "warn" },
  }));
  client = new HttpsClient(`https://localhost:${httpsPort}`, readFileSync(certPath, "utf8"));
  xvfb = await startXvfb(W, H, DISPLAYS);
  await startServer();
}, 120_000);

afterAll(async () => {
  workerd?.child.kill("SIGCONT"); // a failure while frozen must not leave it unable to take SIGTERM
  await workerd?.stop();
  await xvfb?.stop();
  await client?.close();
  rmSync(work, { recursive: true, force: true });
});

function agentProcess(args: string[]) {
  // The agent trusts only the generated certificate: OpenSSL's store (--use-openssl-ca) is that one file.
  const env = { ...process.env, NODE_OPTIONS: "--use-openssl-ca", SSL_CERT_FILE: certPath, SSL_CERT_DIR: join(work, "no-certs") };
  const child = spawn(process.execPath, [AGENT, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/**
 * Bytes the kernel holds for workerd on its sockets at `port` that workerd has not read (rx_queue of
 * established IPv4 sockets in /proc/net/tcp): with workerd frozen, a request on its way in.
 */
function unreadBytesAt(port: number): number {
  let total = 0;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[3] !== "01") continue;
    if (parseInt(fields[1]!.split(":")[1]!, 16) !== port) continue;
    total += parseInt(fields[4]!.split(":")[1]!, 16);
  }
  return total;
}

const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern.source, "g"))?.length ?? 0;

function lucidVerify(bundlePath: string, chunksDir: string, producer: string) {
  return spawnSync(process.execPath, [LUCID, "verify", bundlePath, "--chunks", chunksDir, "--trust", producer], { encoding: "utf8" });
}

/** Downloads every chunk as <index>.chunk, the layout `lucid verify --chunks` reads. */
async function downloadChunks(sessionId: string, chunkCount: number, token: string, dir: string): Promise<Uint8Array[]> {
  mkdirSync(dir, { recursive: true });
  const chunks: Uint8Array[] = [];
  for (let index = 0; index < chunkCount; index++) {
    const bytes = await client.bytes(`/api/v1/sessions/${sessionId}/chunks/${index}`, token);
    writeFileSync(join(dir, `${index}.chunk`), bytes);
    chunks.push(bytes);
  }
  return chunks;
}

describe("the whole flow on self-hosted workerd", () => {
  const state = {
    owner: undefined as unknown as Login,
    operator: undefined as unknown as Login,
    nodeId: "",
    sessionId: "",
    chunkCount: 0,
    screen: new Uint8Array(),
    spool: join(work, "spool"),
  };

  it("logs in with TRON signatures; the SUPER_ADMIN (after TOTP) makes an operator, who enrols a node", async () => {
    // The bootstrap address logs in with USER powers until it enrols TOTP; then with a recovery code.
    const { first, full } = await superAdminLogin(client, admin.wallet);
    expect(first).toMatchObject({ user: { role: "SUPER_ADMIN" }, effectiveRole: "USER", secondFactor: "enrolment-required" });
    expect(full).toMatchObject({ effectiveRole: "SUPER_ADMIN", secondFactor: "passed" });
    admin.token = full.accessToken;
    const operator = await nodeOperator(client, admin.token);
    state.operator = operator.login;
    expect(state.operator.effectiveRole).toBe("NODE_OPERATOR");
    // Node enrolment through the nodes API, as the agent will do it (its `enroll` command is not built yet).
    const node = await registerNode(client, operator);
    state.nodeId = node.nodeId;
    writeFileSync(join(work, "node.credential"), node.credential, { mode: 0o600 });

    const ownerWallet = await TronWallet.create();
    state.owner = await ownerWallet.login(client);
    expect(state.owner.effectiveRole).toBe("USER");
  });

  it("the agent records the display and uploads; kill -9 of workerd mid-upload → restart → the upload resumes", async () => {
    const created = await client.expect<{ id: string; state: string }>(201, "POST", "/api/v1/sessions", {
      token: state.owner.accessToken,
      json: { nodeId: state.nodeId, title: "End-to-end recording" },
    });
    state.sessionId = created.id;
    await client.expect(200, "POST", `/api/v1/sessions/${state.sessionId}/start`, { token: state.owner.accessToken });
    // The node fetches the session's data key with its credential, and encrypts with it.
    const credential = readFileSync(join(work, "node.credential"), "utf8");
    const dataKey = await client.expect<{ key: string }>(200, "GET", `/api/v1/sessions/${state.sessionId}/key`, { token: credential });
    const keyFile = join(work, "session.key");
    writeFileSync(keyFile, Buffer.from(dataKey.key, "base64").toString("hex"), { mode: 0o600 });

    const painter = startPainter(xvfb!.display, W, H);
    const agent = agentProcess([
      "record",
      "--display",
      xvfb!.display,
      "--out",
      state.spool,
      "--session",
      state.sessionId,
      "--key-file",
      keyFile,
      "--server",
      client.base,
      "--token-file",
      join(work, "node.credential"),
      "--fps",
      "20",
      "--tile",
      "32",
      "--chunk-seconds",
      "0.5",
      "--concurrency",
      "2",
    ]);
    try {
      await until("two uploads", () => count(agent.output(), /uploaded \(HTTP 201\)/) >= 2, { detail: agent.output });
      // Freeze workerd until the agent's next PUT is on its socket (more than a TLS alert's worth of
      // unread bytes), then kill it: the upload dies mid-request.
      workerd!.child.kill("SIGSTOP");
      await until("an upload in flight to the frozen workerd", () => unreadBytesAt(httpsPort) > 4096, { detail: agent.output });
      await killServer();
      const uploadedBefore = count(agent.output(), /uploaded \(HTTP 20[01]\)/);
      await startServer();
      await until("uploads after the restart", () => count(agent.output(), /uploaded \(HTTP 20[01]\)/) > uploadedBefore + 1, {
        detail: agent.output,
      });
      painter.stop(); // the screen stays still from here; the last frame must show it exactly
      // Not a condition the agent reports: time for the 20 fps capture to take the still screen.
      await new Promise((r) => setTimeout(r, 600));
      agent.child.kill("SIGTERM"); // stop capture; the agent seals the open chunk and drains the spool
      expect(await agent.exited, agent.output()).toBe(0);
    } finally {
      painter.stop();
      if (agent.child.exitCode === null) agent.child.kill("SIGKILL");
    }
    state.screen = painter.screen;
    const output = agent.output();
    // An upload was cut off mid-request (reset, not refused), retried, and succeeded.
    expect(output, output).toMatch(/upload attempt \d+ failed \((?!connect ECONNREFUSED)[^)]*\); retrying/);
    state.chunkCount = (JSON.parse(readFileSync(join(state.spool, "session.json"), "utf8")) as { nextIndex: number }).nextIndex;
    expect(readdirSync(join(state.spool, "chunks"))).toEqual([]);
    const view = await client.expect<{ state: string; chunks: { count: number; contiguous: number } }>(
      200,
      "GET",
      `/api/v1/sessions/${state.sessionId}`,
      { token: state.owner.accessToken },
    );
    expect(view).toMatchObject({ state: "recording", chunks: { count: state.chunkCount, contiguous: state.chunkCount } });
  });

  it("stop → kill -9 → restart: the pipeline and the chain's alarms carry on to an anchored, completed session", async () => {
    const stopped = await client.expect<{ state: string }>(200, "POST", `/api/v1/sessions/${state.sessionId}/stop`, {
      token: state.owner.accessToken,
      json: { chunkCount: state.chunkCount },
    });
    expect(stopped.state).toBe("processing");
    await killServer();
    const restartedAt = Date.now();
    await startServer();
    let view: { state: string; anchor: { blockHeight: number } | null; failure: string | null } | undefined;
    await until("the session to complete", async () => {
      view = await client.expect(200, "GET", `/api/v1/sessions/${state.sessionId}`, { token: state.owner.accessToken });
      return view!.state === "completed" || view!.state === "failed";
    });
    expect(view).toMatchObject({ state: "completed", failure: null });
    expect(view!.anchor!.blockHeight).toBeGreaterThan(0);

    const { items: events } = await client.expect<{
      items: { kind: string; at: string; toState: string | null; detail: { index?: number } | null }[];
    }>(200, "GET", `/api/v1/sessions/${state.sessionId}/events`, { token: state.owner.accessToken });
    const transitions = events.filter((e) => e.kind === "transition").map((e) => e.toState);
    expect(transitions).toEqual(["recording", "processing", "stored", "anchored", "completed"]);
    // Completing happened after the restart: the alarms set before the kill fired in the new process.
    expect(Date.parse(events.find((e) => e.toState === "completed")!.at)).toBeGreaterThanOrEqual(restartedAt);
    // Every chunk was stored exactly once, whatever was retried.
    const stored = events.filter((e) => e.kind === "chunk-stored").map((e) => e.detail!.index);
    expect(stored.sort((a, b) => a! - b!)).toEqual([...Array(state.chunkCount).keys()]);
  });

  it("the evidence bundle verifies with `lucid verify`; the recording decodes to the drawn screen", async () => {
    const bundle = await client.expect<{
      chunks: { index: number; sha256: string }[];
      anchor: { block: { hash: string; header: { height: number } } };
    }>(200, "GET", `/api/v1/sessions/${state.sessionId}/evidence`, { token: state.owner.accessToken });
    expect(bundle.chunks).toHaveLength(state.chunkCount);
    // The block the bundle names is the chain's block at that height.
    const block = await client.expect<{ hash: string }>(200, "GET", `/api/v1/chain/blocks/${bundle.anchor.block.header.height}`);
    expect(block.hash).toBe(bundle.anchor.block.hash);
    const bundlePath = join(work, "evidence.json");
    writeFileSync(bundlePath, JSON.stringify(bundle));
    const chunks = await downloadChunks(state.sessionId, state.chunkCount, state.owner.accessToken, join(work, "download"));
    const producer = bytesToHex(ed25519.getPublicKey(hexToBytes(secrets.CHAIN_PRODUCER_KEY)));
    const verify = lucidVerify(bundlePath, join(work, "download"), producer);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain(`${state.chunkCount} chunk files match them`);
    expect(verify.stdout).toContain("ok   producer: producer is trusted");

    // Exactly one blob per chunk in the chunk store on disk (abandoned uploads were swept at stop).
    const sessionDir = join(chunkStore, "sessions", state.sessionId, "chunks");
    const blobs = readdirSync(sessionDir).map((dir) => readdirSync(join(sessionDir, dir)));
    expect(blobs.map((files) => files.length)).toEqual(Array(state.chunkCount).fill(1));

    // The owner decrypts with the session key: every chunk decodes, the last frame is the drawn screen.
    const { key } = await client.expect<{ key: string }>(200, "GET", `/api/v1/sessions/${state.sessionId}/key`, {
      token: state.owner.accessToken,
    });
    const manifest = await client.expect<{ chunks: { index: number; nonce: string }[] }>(
      200,
      "GET",
      `/api/v1/sessions/${state.sessionId}/manifest`,
      {
        token: state.owner.accessToken,
      },
    );
    let last: Uint8Array | null = null;
    for (const { index, nonce } of manifest.chunks) {
      const plain = openChunk(chunks[index]!, hexToBytes(nonce), state.sessionId, index, Uint8Array.from(Buffer.from(key, "base64")));
      const frames = [...decodeRecording(plain)];
      expect(frames[0]!.type).toBe("keyframe");
      last = frames.at(-1)!.pixels.slice();
    }
    expect(last !== null && Buffer.from(last).equals(state.screen)).toBe(true);
  });

  it("one flipped byte of a chunk in the chunk store on disk: the server refuses it, and `lucid verify` names that chunk", async () => {
    const victim = Math.floor(state.chunkCount / 2);
    const dir = join(chunkStore, "sessions", state.sessionId, "chunks", String(victim).padStart(10, "0"));
    const [file] = readdirSync(dir);
    const path = join(dir, file!);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(path, bytes);
    // The server hashes what it reads and never serves the altered bytes as genuine.
    await expect(downloadChunks(state.sessionId, state.chunkCount, state.owner.accessToken, join(work, "refused"))).rejects.toThrow(
      new RegExp(`chunks/${victim} answered 500: .*chunk-corrupt`),
    );
    // An outsider holding the stored bytes (a copy of the disk) finds the same with `lucid verify`.
    const tampered = join(work, "tampered");
    cpSync(join(work, "download"), tampered, { recursive: true });
    writeFileSync(join(tampered, `${victim}.chunk`), bytes);
    const producer = bytesToHex(ed25519.getPublicKey(hexToBytes(secrets.CHAIN_PRODUCER_KEY)));
    const verify = lucidVerify(join(work, "evidence.json"), tampered, producer);
    expect(verify.status, verify.stdout + verify.stderr).toBe(1);
    expect(verify.stdout).toContain(`FAIL chunk ${victim}: chunk ${victim} was altered`);
    expect(verify.stderr).toContain(`FAILED at chunk ${victim}`);
  });
});
