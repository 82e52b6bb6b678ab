// BENCH agent-channel: commands round-tripped per second over the RDP agent channel (ours) vs. a
// bare WebSocket echo (baseline), both on a real workerd in the same run.
//
// Ours: the full Lucid Worker (edge-adapter build). A node registers, its agent connects and a
// desktop is started; the agent then disconnects and N `server.notify` commands are queued over
// the API (not timed). The timed part is the agent's reconnect: welcome → signed hello → the
// RdpHostDO replays all N pending commands → the agent signs an ack for each (Ed25519) → the DO
// verifies every ack and settles its command. Done when the host reports 0 pending commands.
// Baseline: a plain Worker that echoes WebSocket messages; the client sends N frames of the
// same size at once and waits for the N echoes.
import { generateKeyPairSync, sign as edSign } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { sign as jwtSign } from "hono/jwt";
import { buildSelfHosted } from "../edge-adapter/build.ts";
import { randomSecrets } from "../edge-adapter/secrets.ts";
import { freePort, ROOT, startWorkerd, waitForHttp } from "../edge-adapter/workerd-process.ts";
import { registrationMessage } from "../shared/nodes/protocol.ts";
import { agentSigningBytes, CHANNEL_PATH } from "../shared/rdp/protocol.ts";

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 2000);
const QUEUE_CONCURRENCY = 32;
/** BENCH_BATCHES=0: an agent that does not ask for `commands` frames (one frame per command). */
const BATCHES = process.env.BENCH_BATCHES !== "0";

const work = mkdtempSync(join(tmpdir(), "lucid-bench-agent-channel-"));
const stops = [];

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url");
  return { privateKey, publicKeyHex: raw.toString("hex") };
}

async function token(secret, sub, role) {
  const now = Math.floor(Date.now() / 1000);
  return jwtSign({ sub, role, iat: now, exp: now + 3600 }, secret, "HS256");
}

/** Opens a WebSocket and yields its frames through an async queue. */
function openSocket(url, headers = {}) {
  const ws = new WebSocket(url, { headers });
  const queue = [];
  let wake = null;
  ws.addEventListener("message", (event) => {
    queue.push(event.data);
    wake?.();
  });
  const opened = new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error(`WebSocket ${url} failed`)), { once: true });
  });
  const next = async () => {
    while (!queue.length) await new Promise((resolve) => (wake = resolve));
    return queue.shift();
  };
  return { ws, opened, next, queue, onMessage: (fn) => ws.addEventListener("message", (e) => fn(e.data)) };
}

try {
  // ---- ours: the Lucid Worker -----------------------------------------------------------
  const port = await freePort();
  const secrets = randomSecrets();
  const { configPath } = buildSelfHosted({
    root: ROOT,
    outDir: join(work, "ours"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${port}`,
    publicOrigin: `http://127.0.0.1:${port}`,
    vars: { RATE_LIMIT_PER_MINUTE: "100000000", LOG_LEVEL: "error", RDP_COMMAND_MAX_ATTEMPTS: "100" },
  });
  const ours = startWorkerd(configPath, { env: secrets });
  stops.push(ours.stop);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/health`);

  const operator = await token(secrets.JWT_SECRET_KEY, "bench-operator", "NODE_OPERATOR");
  const user = await token(secrets.JWT_SECRET_KEY, "bench-user", "USER");
  const call = async (method, path, bearer, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${bearer}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  const key = keyPair();
  const unsigned = {
    publicKey: key.publicKeyHex,
    payoutAddress: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
    resources: { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 },
    timestamp: Date.now(),
  };
  const signature = edSign(null, registrationMessage("bench-operator", unsigned), key.privateKey).toString("hex");
  const registered = await call("POST", "/api/v1/nodes", operator, { ...unsigned, signature });
  const nodeId = registered.node.id;
  const credential = registered.credential.token;
  const channelUrl = `ws://127.0.0.1:${port}${CHANNEL_PATH(nodeId)}`;

  /** The agent: signs every frame with the node key (node:crypto Ed25519). */
  async function connectAgent() {
    const socket = openSocket(channelUrl, { "X-Node-Credential": credential });
    await socket.opened;
    const welcome = JSON.parse(await socket.next());
    let seq = 0;
    const send = (message) => {
      const framed = { ...message, channel: welcome.channel, seq: ++seq, sentAt: Date.now() };
      const sig = edSign(null, agentSigningBytes(nodeId, framed), key.privateKey).toString("hex");
      socket.ws.send(JSON.stringify({ ...framed, sig }));
    };
    return { socket, send };
  }

  const pending = async () => (await call("GET", `/api/v1/rdp/hosts/${nodeId}`, operator)).pendingCommands;

  // A running desktop to send commands to.
  const session = await call("POST", "/api/v1/sessions", user, { nodeId, title: "bench" });
  let agent = await connectAgent();
  agent.send({ type: "hello", protocol: 1, agentVersion: "bench", servers: [] });
  while (!(await call("GET", `/api/v1/rdp/hosts/${nodeId}`, operator)).connected) await new Promise((r) => setTimeout(r, 10));
  const desktop = await call("POST", "/api/v1/rdp/desktops", user, { sessionId: session.id });
  const start = JSON.parse(await agent.socket.next());
  agent.send({ type: "ack", commandId: start.id, outcome: "done" });
  while ((await pending()) > 0) await new Promise((r) => setTimeout(r, 10));
  const serverPath = `/api/v1/rdp/hosts/${nodeId}/servers/${desktop.server.id}`;

  async function roundTrip(count) {
    agent.socket.ws.close();
    while ((await call("GET", `/api/v1/rdp/hosts/${nodeId}`, operator)).connected) await new Promise((r) => setTimeout(r, 10));
    // Queue `count` commands while the agent is away (not timed).
    let issued = 0;
    await Promise.all(
      Array.from({ length: QUEUE_CONCURRENCY }, async () => {
        while (issued < count) {
          issued++;
          await call("POST", `${serverPath}/notify`, operator, { level: "info", message: `bench message ${issued}` });
        }
      }),
    );
    const started = performance.now();
    agent = await connectAgent();
    let acked = 0;
    // Acks for the commands that arrived in one burst go out as one signed `acks` frame.
    let batch = [];
    let batches = 0;
    const flush = () => {
      if (!batch.length) return;
      agent.send({ type: "acks", acks: batch });
      batches++;
      acked += batch.length;
      batch = [];
    };
    const onCommand = (command) => {
      if (batch.push({ commandId: command.id, outcome: "done" }) === 1) setTimeout(flush, 1);
      if (batch.length === 1000) flush();
    };
    agent.socket.onMessage((data) => {
      const frame = JSON.parse(data);
      if (frame.type === "command") onCommand(frame);
      else if (frame.type === "commands") frame.commands.forEach(onCommand);
    });
    // `batches: true`, as lucid-agent's hello says: the replay comes in `commands` frames.
    agent.send({
      type: "hello",
      protocol: 1,
      agentVersion: "bench",
      servers: [{ serverId: desktop.server.id, state: "listening" }],
      ...(BATCHES ? { batches: true } : {}),
    });
    while (acked < count) await new Promise((r) => setTimeout(r, 2));
    const ackedAt = performance.now();
    while ((await pending()) > 0) await new Promise((r) => setTimeout(r, 10));
    if (process.env.BENCH_VERBOSE)
      console.log(
        `  commands received and acked after ${(ackedAt - started).toFixed(0)} ms, settled after ${(performance.now() - started).toFixed(0)} ms, ${batches} ack frames`,
      );
    const seconds = (performance.now() - started) / 1000;
    return { rate: count / seconds, seconds };
  }

  await roundTrip(Math.min(300, COMMANDS)); // warm-up
  const measured = await roundTrip(COMMANDS);
  agent.socket.ws.close();

  // ---- baseline: bare WebSocket echo -------------------------------------------------------
  const echoPort = await freePort();
  const echoDir = join(work, "echo");
  mkdirSync(echoDir);
  writeFileSync(
    join(echoDir, "echo.js"),
    `export default { fetch(request) {
  if (request.headers.get("Upgrade") !== "websocket") return new Response("echo", { status: 426 });
  const [client, server] = Object.values(new WebSocketPair());
  server.accept();
  server.addEventListener("message", (event) => server.send(event.data));
  return new Response(null, { status: 101, webSocket: client });
} };\n`,
  );
  writeFileSync(
    join(echoDir, "echo.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "echo", worker = (modules = [(name = "echo.js", esModule = embed "echo.js")], compatibilityDate = "2026-11-01"))],
  sockets = [(name = "http", address = "127.0.0.1:${echoPort}", http = (), service = "echo")],
);\n`,
  );
  const echo = startWorkerd(join(echoDir, "echo.capnp"));
  stops.push(echo.stop);
  await waitForHttp(`http://127.0.0.1:${echoPort}/`, 20_000, true);
  // Frames the size of a notify command, sent as a burst like the replay.
  const sample = JSON.stringify({
    type: "command",
    id: "cmd_0123456789abcdef01234567",
    seq: 1,
    attempt: 2,
    issuedAt: Date.now(),
    command: { kind: "server.notify", serverId: desktop.server.id, level: "info", message: "bench message 1000" },
  });
  async function echoRun(count) {
    const socket = openSocket(`ws://127.0.0.1:${echoPort}/`);
    await socket.opened;
    let echoed = 0;
    const done = new Promise((resolve) => socket.onMessage(() => ++echoed === count && resolve()));
    const started = performance.now();
    for (let i = 0; i < count; i++) socket.ws.send(sample);
    await done;
    const seconds = (performance.now() - started) / 1000;
    socket.ws.close();
    return { rate: count / seconds, seconds };
  }
  await echoRun(Math.min(300, COMMANDS));
  const baseline = await echoRun(COMMANDS);

  console.log(
    `agent-channel: ${COMMANDS} commands replayed, signed-acked and settled in ${measured.seconds.toFixed(2)} s ` +
      `(${measured.rate.toFixed(0)} cmd/s, ${BATCHES ? "batched replay" : "one frame per command"}); bare echo of ${COMMANDS} frames in ${baseline.seconds.toFixed(3)} s (${baseline.rate.toFixed(0)} msgs/s); ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
  );
  console.log(
    `BENCH agent-channel ours=${measured.rate.toFixed(0)} baseline=${baseline.rate.toFixed(0)} ratio=${(measured.rate / baseline.rate).toFixed(3)} unit=cmd/s load=${loadavg()[0].toFixed(2)}`,
  );
} finally {
  for (const stop of stops.reverse()) await stop();
  rmSync(work, { recursive: true, force: true });
}
