// The demo seed `npm start` runs, against a real workerd from the self-hosted config: it must make a
// recording that really decodes to the scripted desktop and anchors with verifiable evidence, and a
// second run must find everything and change nothing.
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { openChunk } from "../../pi-agent/lib/seal.ts";
import { decodeRecording } from "../../shared/recording/index.ts";
import { verifyEvidence } from "../../shared/verify.ts";
import { tronLogin } from "../../scripts/demo/actors.ts";
import { DemoHttp } from "../../scripts/demo/http.ts";
import { IdentityStore, walletOf } from "../../scripts/demo/identities.ts";
import { demoFrame } from "../../scripts/demo/recording.ts";
import { DEMO_SESSION_TITLE, demoDevVars, seedDemo } from "../../scripts/seed-demo.ts";
import { until } from "../node/helpers/until.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-seed-"));
const store = new IdentityStore(join(work, "demo", "identities.json"));
let base = "";
let workerd: WorkerdProcess | undefined;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port, {
    vars: { ...demoDevVars(store.loadOrCreate()), BLOCK_INTERVAL_SECONDS: "1" },
  });
  workerd = startWorkerd(configPath, { env: randomSecrets() });
  await waitForWorkerd(workerd, `${base}/health`, 20_000);
}, 120_000);

afterAll(async () => {
  await workerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("demo seed (npm start)", () => {
  it("records a session that decodes to the scripted desktop and anchors verifiably; a second run changes nothing", async () => {
    const firstLog: string[] = [];
    await seedDemo(base, store, (line) => firstLog.push(line));
    expect(firstLog.join("\n")).toMatch(/recording: .*3 chunks .* uploaded and stopped/);
    // No secret is ever printed: the log says where the admin's TOTP secret is (a 0600 file), not what it is.
    const secret = store.loadOrCreate().adminTotpSecret!;
    expect(secret).toBeTruthy();
    expect(firstLog.join("\n")).not.toContain(secret);
    expect(firstLog.join("\n")).toContain(store.path);
    expect(statSync(store.path).mode & 0o777).toBe(0o600);

    const http = new DemoHttp(base);
    const user = await tronLogin(http, walletOf(store.loadOrCreate(), "user"));
    const token = user.accessToken;
    const { items } = await http.call<{ items: { id: string; title: string }[] }>("/api/v1/sessions", { token });
    const session = items.find((s) => s.title === DEMO_SESSION_TITLE)!;
    expect(session).toBeDefined();

    const evidence = await until(
      "the anchor",
      async () => {
        const res = await fetch(`${base}/api/v1/sessions/${session.id}/evidence`, { headers: { Authorization: `Bearer ${token}` } });
        return res.status === 200 ? await res.json() : undefined;
      },
      { intervalMs: 250 },
    );
    const chunks = new Map<number, Uint8Array>();
    const manifest = await http.call<{ chunks: { index: number; nonce: string }[] }>(`/api/v1/sessions/${session.id}/manifest`, { token });
    const { key } = await http.call<{ key: string }>(`/api/v1/sessions/${session.id}/key`, { token });
    for (const { index } of manifest.chunks) {
      const res = await fetch(`${base}/api/v1/sessions/${session.id}/chunks/${index}`, { headers: { Authorization: `Bearer ${token}` } });
      chunks.set(index, new Uint8Array(await res.arrayBuffer()));
    }
    const verdict = await verifyEvidence(evidence, { chunkBytes: (i) => chunks.get(i) });
    expect(verdict.ok, JSON.stringify(verdict)).toBe(true);

    // Every frame the seed scripted comes back pixel for pixel, chunk after chunk.
    let n = 0;
    for (const { index, nonce } of manifest.chunks) {
      const plain = openChunk(chunks.get(index)!, Buffer.from(nonce, "hex"), session.id, index, Buffer.from(key, "base64"));
      for (const frame of decodeRecording(plain)) {
        expect(Buffer.compare(Buffer.from(frame.pixels), Buffer.from(demoFrame(n).pixels)), `frame ${n}`).toBe(0);
        n++;
      }
    }
    expect(n).toBe(120);

    const secondLog: string[] = [];
    await seedDemo(base, store, (line) => secondLog.push(line));
    expect(secondLog.join("\n")).toMatch(/node: .* already registered/);
    expect(secondLog.join("\n")).not.toContain(secret);
    expect(secondLog.join("\n")).toMatch(new RegExp(`recording: ${session.id} already recorded`));
    const after = await http.call<{ items: { title: string }[] }>("/api/v1/sessions", { token });
    expect(after.items.filter((s) => s.title === DEMO_SESSION_TITLE)).toHaveLength(1);
  }, 120_000);

  it("a chunk truncated on the disk is a 500 problem+json without a stack, not a short 200 or a plain-text error", async () => {
    const http = new DemoHttp(base);
    const { accessToken: token } = await tronLogin(http, walletOf(store.loadOrCreate(), "user"));
    const { items } = await http.call<{ items: { id: string; title: string }[] }>("/api/v1/sessions", { token });
    const session = items.find((s) => s.title === DEMO_SESSION_TITLE)!;
    // The edge adapter's disk service keeps chunk 0 under data/chunks/sessions/<id>/chunks/<index>/…
    const files = readdirSync(join(work, "data", "chunks", "sessions", session.id), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.parentPath.includes(`${join("chunks", "0000000000")}`))
      .map((entry) => join(entry.parentPath, entry.name));
    expect(files).toHaveLength(1);
    truncateSync(files[0]!, Math.floor(statSync(files[0]!).size / 2));
    for (const headers of [{}, { Range: "bytes=0-9" }] as Record<string, string>[]) {
      const res = await fetch(`${base}/api/v1/sessions/${session.id}/chunks/0`, {
        headers: { ...headers, Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(500);
      expect(res.headers.get("Content-Type")).toBe("application/problem+json");
      const body = await res.text();
      expect(body).not.toMatch(/\bat .*:\d+:\d+|Error:/);
      expect(JSON.parse(body)).toMatchObject({ type: "/problems/chunk-corrupt", status: 500, index: 0 });
    }
  }, 60_000);
});
