// Interaction events end to end (issue #20): a real workerd serving Lucid, a node enrolled by the real
// `lucid-agent enroll`, a session created with the `metadata` interaction policy, and the real
// `lucid-agent record --interaction metadata` on an Xvfb where a titled xterm is focused and typed
// into with xdotool. Through the public API only: the chunks arrive, a word of the window title finds
// the session (a window-title match naming a chunk), a word that was only typed finds nothing, and
// that chunk, opened with the session's data key, carries the focus event with the title.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { loadNodeState } from "../../pi-agent/lib/node/state.ts";
import { decodeEvents } from "../../shared/recording/index.ts";
import { until } from "../node/helpers/until.ts";
import { startXvfb, type Xvfb } from "../node/helpers/xvfb.ts";
import { enrolAgent, startAgent } from "./helpers/agent-process.ts";
import { HttpsClient, nodeOperator, superAdminLogin, TronWallet, type Login } from "./helpers/lucid-client.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

/** A word found nowhere but in the xterm's title. */
const TITLE_WORD = "Quillfeather";
const TITLE = `${TITLE_WORD} ledger ${process.pid}`;
/** A word found nowhere but in what is typed into the xterm. */
const TYPED_WORD = "Marmalade7";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-interaction-"));
const stateDir = join(work, "state");
const secrets = randomSecrets();
const children: ChildProcess[] = [];
let workerd: WorkerdProcess | undefined;
let xvfb: Xvfb | undefined;
let client: HttpsClient;
let owner: Login;
let nodeId = "";

beforeAll(async () => {
  const admin = await TronWallet.create();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port, {
    vars: {
      BOOTSTRAP_SUPER_ADMIN_ADDRESS: admin.address,
      NODE_MIN_CPU_CORES: "1",
      NODE_MIN_MEMORY_MB: "256",
      NODE_MIN_DISK_GB: "1",
      LOG_LEVEL: "warn",
    },
  });
  xvfb = await startXvfb(640, 480);
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 30_000);
  client = new HttpsClient(base);
  const { full } = await superAdminLogin(client, admin);
  const operator = await nodeOperator(client, full.accessToken);
  nodeId = await enrolAgent({ server: base, operatorToken: operator.login.accessToken, stateDir, work, children });
  owner = await (await TronWallet.create()).login(client);
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await workerd?.stop();
  await xvfb?.stop();
  await client?.close();
  rmSync(work, { recursive: true, force: true });
});

const xdotool = (...args: string[]) =>
  execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: xvfb!.display }, encoding: "utf8" }).trim();

interface SearchItem {
  id: string;
  matches: { field: string; chunkIndex: number | null }[];
}
const search = (q: string) =>
  client.expect<{ items: SearchItem[] }>(200, "GET", `/api/v1/sessions/search?q=${encodeURIComponent(q)}`, { token: owner.accessToken });

describe("interaction events from the real agent to session search on a real workerd", () => {
  it("metadata policy: the window title is searchable and in the recording; typed words are neither", async () => {
    const created = await client.expect<{ id: string; interaction: string }>(201, "POST", "/api/v1/sessions", {
      token: owner.accessToken,
      json: { nodeId, title: "Interaction end to end", interaction: "metadata" },
    });
    expect(created.interaction).toBe("metadata");
    const sessionId = created.id;

    // The node fetches the session's data key with its credential, as the agent does for a session it hosts.
    const credential = loadNodeState(stateDir).credential.token;
    const tokenFile = join(work, "node.credential");
    writeFileSync(tokenFile, credential, { mode: 0o600 });
    const { key } = await client.expect<{ key: string }>(200, "GET", `/api/v1/sessions/${sessionId}/key`, { token: credential });
    const keyFile = join(work, "session.key");
    writeFileSync(keyFile, Buffer.from(key, "base64").toString("hex"), { mode: 0o600 });

    const xterm = spawn("xterm", ["-T", TITLE, "-geometry", "30x6+10+10", "-e", "cat"], {
      env: { ...process.env, DISPLAY: xvfb!.display },
      stdio: "ignore",
    });
    children.push(xterm);
    const window = await until(`xterm "${TITLE}"`, () => {
      try {
        return xdotool("search", "--name", TITLE).split("\n")[0];
      } catch {
        return "";
      }
    });

    const spool = join(work, "spool");
    const agent = startAgent(
      [
        "record",
        "--display",
        xvfb!.display,
        "--out",
        spool,
        "--session",
        sessionId,
        "--key-file",
        keyFile,
        "--server",
        client.base,
        "--token-file",
        tokenFile,
        "--start-session",
        "--interaction",
        "metadata",
        "--fps",
        "10",
        "--chunk-seconds",
        "1",
      ],
      children,
      60_000,
    );
    await agent.waitFor(/recording interaction events under the metadata policy/);
    await agent.waitFor(/first frame captured/);
    xdotool("windowfocus", window);
    await until("the xterm focused", () => xdotool("getwindowfocus") === window);
    xdotool("type", "--delay", "20", `${TYPED_WORD} plums`);
    xdotool("key", "Return");
    // A terms upload the server refuses (path, body, status) shows at once, not as a timeout.
    const termsAt = await agent.waitFor(/chunk (\d+): search terms (uploaded|refused|dropped)/, "a chunk's search terms answered");
    expect(termsAt[2], agent.output()).toBe("uploaded");
    // Then two more chunks, so the typing is behind us.
    const after = Number(termsAt[1]) + 2;
    await agent.waitFor(new RegExp(`chunk ${after}: uploaded \\(HTTP 201\\)`), `chunk ${after} uploaded`);
    agent.child.kill("SIGINT"); // seals the open chunk, drains the spool and its terms, exits 0
    expect(await agent.exited, agent.output()).toBe(0);
    xterm.kill("SIGTERM");
    const output = agent.output();
    expect(output).not.toMatch(/search terms (dropped|refused)|terms not sent|error:/);

    // Every chunk arrived.
    const chunkCount = (JSON.parse(readFileSync(join(spool, "session.json"), "utf8")) as { nextIndex: number }).nextIndex;
    expect(chunkCount).toBeGreaterThan(after);
    const view = await client.expect<{ state: string; interaction: string; chunks: { count: number; contiguous: number } }>(
      200,
      "GET",
      `/api/v1/sessions/${sessionId}`,
      { token: owner.accessToken },
    );
    expect(view).toMatchObject({ state: "recording", interaction: "metadata", chunks: { count: chunkCount, contiguous: chunkCount } });

    // A word of the window title finds the session, from a recorded window title, naming a chunk.
    const found = (await search(TITLE_WORD.toLowerCase())).items.filter((i) => i.id === sessionId);
    expect(found).toHaveLength(1);
    const match = found[0]!.matches.find((m) => m.field === "window-title");
    expect(match, JSON.stringify(found[0]!.matches)).toBeDefined();
    const chunkIndex = match!.chunkIndex!;
    expect(chunkIndex).toBeGreaterThanOrEqual(0);
    expect(chunkIndex).toBeLessThan(chunkCount);
    // Every word of the title is needed in one chunk: the whole title finds it too.
    expect((await search(TITLE)).items.map((i) => i.id)).toContain(sessionId);
    // What was typed is not recorded under metadata: the server never saw it.
    expect((await search(TYPED_WORD)).items).toEqual([]);
    expect((await search(TYPED_WORD.toLowerCase())).items).toEqual([]);

    // The owner stops the session; once it is stored its manifest gives each chunk's nonce.
    await client.expect(200, "POST", `/api/v1/sessions/${sessionId}/stop`, { token: owner.accessToken, json: { chunkCount } });
    const stored = await until(
      "the session stored",
      async () => {
        const { state } = await client.expect<{ state: string }>(200, "GET", `/api/v1/sessions/${sessionId}`, { token: owner.accessToken });
        return ["stored", "anchored", "completed", "failed"].includes(state) && state;
      },
      { intervalMs: 250 },
    );
    expect(stored).not.toBe("failed");
    // Stopped, it is still found by its window title.
    expect((await search(TITLE_WORD)).items.map((i) => i.id)).toContain(sessionId);

    // The owner opens that chunk with the session's key: it carries the focus event with the title.
    const { key: ownerKey } = await client.expect<{ key: string }>(200, "GET", `/api/v1/sessions/${sessionId}/key`, {
      token: owner.accessToken,
    });
    const manifest = await client.expect<{ chunks: { index: number; nonce: string }[] }>(
      200,
      "GET",
      `/api/v1/sessions/${sessionId}/manifest`,
      {
        token: owner.accessToken,
      },
    );
    const nonce = manifest.chunks.find((c) => c.index === chunkIndex)!.nonce;
    const sealed = await client.bytes(`/api/v1/sessions/${sessionId}/chunks/${chunkIndex}`, owner.accessToken);
    const plain = openChunk(sealed, Buffer.from(nonce, "hex"), sessionId, chunkIndex, Uint8Array.from(Buffer.from(ownerKey, "base64")));
    const interactions = decodeEvents(plain).flatMap((e) => (e.kind === "interaction" ? [e.event] : []));
    expect(interactions, JSON.stringify(interactions)).toContainEqual({ type: "focus", title: TITLE, class: "XTerm" });
    // Under metadata no chunk holds the typed text, as an event or as bytes.
    for (const { index, nonce: n } of manifest.chunks) {
      const bytes = await client.bytes(`/api/v1/sessions/${sessionId}/chunks/${index}`, owner.accessToken);
      const open = openChunk(bytes, Buffer.from(n, "hex"), sessionId, index, Uint8Array.from(Buffer.from(ownerKey, "base64")));
      expect(decodeEvents(open).some((e) => e.kind === "interaction" && e.event.type === "text")).toBe(false);
      expect(Buffer.from(open).includes(Buffer.from(TYPED_WORD))).toBe(false);
    }
  }, 120_000);
});
