// The standalone verifier against a real package: a session recorded through the ingest API of a real
// workerd (the self-hosted config), anchored by its chain, downloaded from GET /sessions/{id}/package;
// then only the bundled lucid-verify.mjs and the package are copied to a directory outside the repository
// and run with the system's Node 20. It passes against the deployment's genesis and names the broken
// link for one flipped byte in a chunk, a proof, a header and the producer set, for a forged producer,
// and for another deployment's genesis. Then the same in Chromium with the verify.html the package carries,
// opened from file:// with the network off: every check shown, frames equal to the decoder's, seek.
// A recipient without the data key opens it from the package's key shares with a passphrase file or an
// X25519 secret file (the CLI and `lucid verify`), or the page's passphrase field; a wrong one exits 3.
import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { sign } from "hono/jwt";
import type { Page } from "playwright-core";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, ROOT, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { genesisHeader } from "../../shared/chain/block.ts";
import { bgrToRgba } from "../../shared/recording/index.ts";
import { launchChromium } from "./helpers/browser.ts";
import { until } from "../node/helpers/until.ts";
import { flipByte, flipHexDigit, forgeAnchorBlock, PACKAGE_CHECKS, member } from "../worker/package-tamper.ts";
import { makeRecording, registerNode, uploadChunk } from "./helpers/recording.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

/** A Node outside the repository (the machine's own; scripts/system-tools.ts `systemNode`). */
const SYSTEM_NODE = process.env.LUCID_SYSTEM_NODE ?? "/usr/bin/node";
const work = mkdtempSync(join(tmpdir(), "lucid-e2e-package-"));
/** Outside the repository: only the verifier and the packages are here. */
const outside = mkdtempSync(join(tmpdir(), "lucid-verify-alone-"));
let base = "";
let workerd: WorkerdProcess | undefined;
let pkg = new Uint8Array();
let genesisHash = "";
let dataKey = "";
const passphrase = "a passphrase only the recipient knows";
const recipient = x25519.keygen();
const recording = makeRecording({ width: 96, height: 64, chunks: 3, framesPerChunk: 3, startMs: Date.now() - 60_000, stepMs: 500 });

async function api<T>(path: string, token: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { Authorization: `Bearer ${token}`, ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build-verifier.mjs")], { encoding: "utf8" });
  expect(built.status, built.stderr).toBe(0);
  copyFileSync(join(ROOT, "dist", "lucid-verify.mjs"), join(outside, "lucid-verify.mjs"));

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const secrets = randomSecrets();
  const { configPath } = buildOnLoopback(work, port, { vars: { BLOCK_INTERVAL_SECONDS: "1" } });
  workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);

  const now = Math.floor(Date.now() / 1000);
  const owner = await sign(
    { sub: `owner-${crypto.randomUUID()}`, role: "USER", iat: now, exp: now + 3600 },
    secrets.JWT_SECRET_KEY,
    "HS256",
  );
  const node = await registerNode(base, secrets.JWT_SECRET_KEY);
  const session = await api<{ id: string }>("/sessions", owner, { body: { nodeId: node.nodeId, title: "package e2e" } });
  await api(`/sessions/${session.id}/start`, owner, { method: "POST" });
  const res = await fetch(`${base}/api/v1/sessions/${session.id}/key`, { headers: { Authorization: `Bearer ${node.credential}` } });
  dataKey = ((await res.json()) as { key: string }).key;
  const key = new Uint8Array(Buffer.from(dataKey, "base64"));
  for (const [index, chunk] of recording.entries()) await uploadChunk(base, node.credential, session.id, index, key, chunk);
  await api(`/sessions/${session.id}/stop`, owner, { body: { chunkCount: recording.length } });
  let state = "";
  await until(
    "the session completed (anchored in a block)",
    async () => ((state = (await api<{ state: string }>(`/sessions/${session.id}`, owner)).state), state === "completed"),
    { intervalMs: 200, timeoutMs: 60_000, detail: () => `the session stayed ${state}` },
  );
  for (const to of [
    { kind: "passphrase", passphrase },
    { kind: "x25519", publicKey: bytesToHex(recipient.publicKey) },
  ]) {
    await api(`/sessions/${session.id}/shares`, owner, { body: { label: `recipient (${to.kind})`, recipient: to } });
  }
  const download = await fetch(`${base}/api/v1/sessions/${session.id}/package`, { headers: { Authorization: `Bearer ${owner}` } });
  expect(download.status).toBe(200);
  pkg = new Uint8Array(await download.arrayBuffer());
  genesisHash = ((await (await fetch(`${base}/api/v1/chain/stats`)).json()) as { genesisHash: string }).genesisHash;
}, 120_000);

afterAll(async () => {
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

/** Runs the lone verifier with the system's Node, from the directory outside the repository. */
function verify(bytes: Uint8Array, ...args: string[]) {
  const file = `package-${crypto.randomUUID()}.tar`;
  writeFileSync(join(outside, file), bytes);
  return spawnSync(SYSTEM_NODE, ["lucid-verify.mjs", file, ...args], { cwd: outside, encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
}

describe("lucid-verify.mjs, alone with a package, on the system's Node", () => {
  it("runs on Node 20 with nothing but itself", () => {
    expect(spawnSync(SYSTEM_NODE, ["--version"], { encoding: "utf8" }).stdout).toMatch(/^v2\d\./);
    expect(existsSync(join(outside, "node_modules"))).toBe(false);
  });

  it("passes against the deployment's genesis, prints it, and plays the recording with the key", () => {
    const run = verify(pkg, "--genesis", genesisHash, "--key", dataKey);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`ok   genesis: genesis ${genesisHash} is the trusted one`);
    expect(run.stdout).toContain("ok   chunks: 3 chunks");
    expect(run.stdout).toContain("ok   playback: 3 chunks decrypt and decode with the key: 9 frames");
    expect(run.stdout).toContain(`genesis ${genesisHash}`);
    // Without a pin it still checks everything and says what to compare.
    const unpinned = verify(pkg);
    expect(unpinned.status).toBe(0);
    expect(unpinned.stdout).toContain("not pinned");
  });

  it("names the broken link for one flipped byte in a chunk, a proof, a header, the producer set", async () => {
    const cases: [Uint8Array, string][] = [
      [await flipByte(pkg, "chunks/000001.bin"), "chunk 1"],
      [await flipHexDigit(pkg, "proofs.json", '"path": ['), "proof 0"],
      [await flipHexDigit(pkg, "chain/headers/000001.json", '"txRoot": "'), "chain"],
      [await flipHexDigit(pkg, "chain/genesis.json", '"producers": ['), "producer set"],
    ];
    for (const [bytes, step] of cases) {
      const run = verify(bytes, "--genesis", genesisHash);
      expect(run.status, `${step}: ${run.stdout}${run.stderr}`).toBe(1);
      expect(run.stderr).toContain(`FAILED at ${step}:`);
    }
  });

  it("fails for a block signed outside the producer set, another deployment's genesis, and a wrong key", async () => {
    const forged = verify(await forgeAnchorBlock(pkg), "--genesis", genesisHash);
    expect(forged.status).toBe(1);
    expect(forged.stderr).toMatch(/FAILED at producer: .* outside the producer set/);
    const other = genesisHeader("lucid-other", Date.parse("2026-01-01T00:00:00Z"), ["ab".repeat(32)]).hash;
    const foreign = verify(pkg, "--genesis", other);
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toMatch(/FAILED at genesis: .*another deployment/);
    const wrongKey = verify(pkg, "--genesis", genesisHash, "--key", "11".repeat(32));
    expect(wrongKey.status).toBe(1);
    expect(wrongKey.stderr).toContain("FAILED at playback: chunk 0 does not decrypt");
    expect(verify(pkg, "--genesis", "nothex").status).toBe(2);
    expect(verify(new TextEncoder().encode("not a package")).status).toBe(1);
  });
});

describe("a recipient with a key share instead of the data key", () => {
  /** A secret written to a file in the lone directory (secrets are read from files, never argv). */
  const secretFile = (text: string) => {
    const name = `secret-${crypto.randomUUID()}`;
    writeFileSync(join(outside, name), text, { mode: 0o600 });
    return name;
  };

  it("lucid-verify.mjs opens the key with a passphrase file and decodes every frame", () => {
    const run = verify(pkg, "--genesis", genesisHash, "--passphrase-file", secretFile(`${passphrase}\n`));
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/ok   key share: the data key opened from share [0-9a-f-]{36} \("recipient \(passphrase\)"\)/);
    expect(run.stdout).toContain("ok   playback: 3 chunks decrypt and decode with the key: 9 frames");
  });

  it("and with an X25519 secret key file", () => {
    const run = verify(pkg, "--genesis", genesisHash, "--x25519-secret-file", secretFile(bytesToHex(recipient.secretKey)));
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('("recipient (x25519)")');
    expect(run.stdout).toContain("ok   playback: 3 chunks decrypt and decode with the key: 9 frames");
  });

  it("a wrong passphrase or secret key exits 3 with a clear error, after the checks", () => {
    const wrong = verify(pkg, "--genesis", genesisHash, "--passphrase-file", secretFile("not the passphrase at all"));
    expect(wrong.status, wrong.stdout + wrong.stderr).toBe(3);
    expect(wrong.stdout).toContain("ok   chunks: 3 chunks");
    expect(wrong.stdout).not.toContain("playback");
    expect(wrong.stderr).toContain(
      "lucid-verify: no key: the passphrase opens none of the package's 1 passphrase share (wrong passphrase?)",
    );
    const other = verify(pkg, "--genesis", genesisHash, "--x25519-secret-file", secretFile(bytesToHex(x25519.keygen().secretKey)));
    expect(other.status).toBe(3);
    expect(other.stderr).toContain("the X25519 key opens none of the package's 1 X25519 key share");
    // Usage errors stay 2: a missing file, a malformed secret, two ways to the key at once.
    expect(verify(pkg, "--passphrase-file", "no-such-file").status).toBe(2);
    expect(verify(pkg, "--x25519-secret-file", secretFile("not a key")).status).toBe(2);
    expect(verify(pkg, "--key", dataKey, "--passphrase-file", secretFile(passphrase)).status).toBe(2);
  });

  it("`lucid verify` takes the same files", () => {
    const file = join(outside, `lucid-${crypto.randomUUID()}.tar`);
    writeFileSync(file, pkg);
    const lucid = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, "scripts", "lucid.ts"), "verify", file, "--genesis", genesisHash, ...args], {
        encoding: "utf8",
      });
    const ok = lucid("--passphrase-file", join(outside, secretFile(passphrase)));
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("ok   playback: 3 chunks decrypt and decode with the key: 9 frames");
    const wrong = lucid("--passphrase-file", join(outside, secretFile("a wrong passphrase here")));
    expect(wrong.status).toBe(3);
    expect(wrong.stderr).toContain("lucid verify: no key:");
  });
});

describe("verify.html from the package, in Chromium from file:// with the network off", () => {
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let page: Page;
  const requests: string[] = [];
  const frames = recording.flatMap((c) => c.frames);

  beforeAll(async () => {
    const html = await member(pkg, "verify.html");
    writeFileSync(join(outside, "verify.html"), pkg.subarray(html.offset, html.offset + html.size));
    browser = await launchChromium();
    await browser.context.setOffline(true);
    browser.context.on("request", (request) => {
      if (!request.url().startsWith("file:")) requests.push(request.url());
    });
    page = await browser.context.newPage();
    await page.goto(`file://${join(outside, "verify.html")}`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function open(bytes: Uint8Array, genesis: string, key = "", secret = "") {
    const file = join(outside, `browser-${crypto.randomUUID()}.tar`);
    writeFileSync(file, bytes);
    await page.fill("#key", key);
    await page.fill("#passphrase", secret);
    await page.fill("#genesis", genesis);
    await page.setInputFiles("#package", file);
    await page.locator('#result[data-ok="true"], #result[data-ok="false"]').waitFor({ timeout: 20_000 });
  }

  async function expectFrame(epochMs: number) {
    await page.locator(`canvas[data-frame-ms="${epochMs}"]`).waitFor({ timeout: 20_000 });
    const rgba = await page.locator("canvas").evaluate((node) => {
      const canvas = node as unknown as {
        width: number;
        height: number;
        getContext(k: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      return Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data);
    });
    const recorded = frames.find((f) => f.epochMs === epochMs)!;
    expect(Buffer.compare(Buffer.from(rgba), Buffer.from(bgrToRgba(recorded.frame.pixels)))).toBe(0);
  }

  it("shows every check passed and plays frames equal to the decoder's, with seek", async () => {
    await open(pkg, genesisHash, dataKey);
    expect(await page.locator("#result").getAttribute("data-ok")).toBe("true");
    const steps = await page
      .locator("#checks li")
      .evaluateAll((items) =>
        items.map((li) => [
          (li as unknown as { dataset: Record<string, string> }).dataset.step,
          (li as unknown as { dataset: Record<string, string> }).dataset.ok,
        ]),
      );
    expect(steps.map(([step]) => step)).toEqual(PACKAGE_CHECKS);
    expect(steps.every(([, ok]) => ok === "true")).toBe(true);
    await expectFrame(frames[0]!.epochMs);
    // Seek into the last chunk.
    const target = frames[7]!.epochMs;
    await page.locator("#seek").evaluate((node, value) => {
      const input = node as unknown as { value: string; dispatchEvent(e: unknown): boolean };
      input.value = String(value);
      input.dispatchEvent(new Event("input"));
    }, target);
    await expectFrame(target);
    expect(requests).toEqual([]);
  });

  it("opens the data key from the package's share with the passphrase field and plays the decoder's frame", async () => {
    await open(pkg, genesisHash, "", passphrase);
    expect(await page.locator("#result").getAttribute("data-ok")).toBe("true");
    await page.locator('#key-status[data-ok="true"]').waitFor({ timeout: 30_000 });
    await expectFrame(frames[0]!.epochMs);
    // A wrong passphrase: a clear message and no player.
    await open(pkg, genesisHash, "", "not the recipient's passphrase");
    await page.locator('#key-status[data-ok="false"]').waitFor({ timeout: 30_000 });
    expect(await page.locator("#key-status").textContent()).toContain("opens none of the package's 1 passphrase share");
    expect(await page.locator("#player").isHidden()).toBe(true);
    await page.fill("#passphrase", "");
    expect(requests).toEqual([]);
  });

  it("names the broken link for one flipped byte, and refuses another deployment's genesis", async () => {
    const cases: [Uint8Array, string][] = [
      [await flipByte(pkg, "chunks/000002.bin"), "chunk 2"],
      [await flipHexDigit(pkg, "proofs.json", '"path": [', 1), "proof 1"],
      [await flipHexDigit(pkg, "chain/headers/000001.json", '"txRoot": "'), "chain"],
      [await flipHexDigit(pkg, "chain/genesis.json", '"producers": ['), "producer set"],
    ];
    for (const [bytes, step] of cases) {
      await open(bytes, genesisHash);
      expect(await page.locator("#result").getAttribute("data-ok")).toBe("false");
      expect(await page.locator("#result").getAttribute("data-step")).toBe(step);
      expect(await page.locator("#result").textContent()).toContain(`FAILED at ${step}`);
    }
    await open(pkg, genesisHeader("lucid-other", 0, ["cd".repeat(32)]).hash);
    expect(await page.locator("#result").getAttribute("data-step")).toBe("genesis");
    expect(requests).toEqual([]);
  });

  it("is served at /verify, with a policy that lets it reach nothing", async () => {
    const res = await fetch(`${base}/verify`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(await res.text()).toBe(readFileSync(join(outside, "verify.html"), "utf8"));
  });
});
