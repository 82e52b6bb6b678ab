import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CHUNK_HEADERS } from "../../shared/chunk.ts";
import { openChunk, sealChunk } from "../../pi-agent/lib/seal.ts";
import { Spool, SpoolFullError } from "../../pi-agent/lib/spool.ts";
import { Uploader, type UploadEvent } from "../../pi-agent/lib/uploader.ts";
import { ChunkServer } from "./helpers/chunk-server.ts";
import { until } from "./helpers/until.ts";

const key = new Uint8Array(32).fill(3);
const dirs: string[] = [];
const servers: ChunkServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lucid-spool-"));
  dirs.push(dir);
  return dir;
}

async function spoolChunk(spool: Spool, text: string): Promise<number> {
  const index = spool.takeIndex();
  const plain = new TextEncoder().encode(text);
  const sealed = sealChunk({ plain, sessionId: spool.sessionId, index, key, zstdLevel: 1 });
  await spool.writeSealed(index, sealed, { start: 1000 + index, end: 2000 + index });
  return index;
}

function uploader(spool: Spool, server: ChunkServer, events: UploadEvent[] = []) {
  return new Uploader(spool, {
    baseUrl: server.url,
    token: server.token,
    concurrency: 2,
    minBackoffMs: 5,
    maxBackoffMs: 40,
    onEvent: (e) => events.push(e),
  });
}

async function newServer(): Promise<ChunkServer> {
  const server = new ChunkServer("node-token");
  servers.push(server);
  await server.start();
  return server;
}

describe("spool and upload", () => {
  it("uploads every spooled chunk with the contract's headers and empties the spool", async () => {
    const server = await newServer();
    const spool = await Spool.open(tempDir(), { sessionId: "sess-a", quotaBytes: 1e6 });
    for (let i = 0; i < 5; i++) await spoolChunk(spool, `chunk ${i} `.repeat(100));
    await uploader(spool, server).run({ signal: new AbortController().signal, done: () => true });
    const stored = server.session("sess-a");
    expect([...stored.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
    const third = stored.get(3)!;
    expect(third.headers[CHUNK_HEADERS.captureStart.toLowerCase()]).toBe("1003");
    const plain = openChunk(third.body, Buffer.from(third.headers[CHUNK_HEADERS.nonce.toLowerCase()] as string, "hex"), "sess-a", 3, key);
    expect(new TextDecoder().decode(plain)).toBe("chunk 3 ".repeat(100));
    expect(await spool.pending()).toEqual([]);
    expect(readdirSync(spool.chunksDir)).toEqual([]);
  });

  it("loses nothing while the server is down for a while, retrying with back-off", async () => {
    const server = await newServer();
    server.goDown();
    const spool = await Spool.open(tempDir(), { sessionId: "sess-b", quotaBytes: 1e6 });
    for (let i = 0; i < 3; i++) await spoolChunk(spool, `down ${i}`);
    const events: UploadEvent[] = [];
    const running = uploader(spool, server, events).run({ signal: new AbortController().signal, done: () => true });
    await until("six retries", () => events.filter((e) => e.kind === "retry").length >= 6, { intervalMs: 10 });
    expect(server.session("sess-b").size).toBe(0);
    server.comeBack();
    await running;
    expect([...server.session("sess-b").keys()].sort()).toEqual([0, 1, 2]);
    const delays = events.flatMap((e) => (e.kind === "retry" && e.index === 0 ? [e.delayMs] : []));
    expect(Math.max(...delays)).toBeLessThanOrEqual(40);
    expect(await spool.pending()).toEqual([]);
  });

  it("does not pick up again a chunk listed just before its upload finished (no retry against a deleted file)", async () => {
    const server = await newServer();
    server.responseDelayMs = 200; // keeps chunk 0 in flight while the next listing is taken
    const spool = await Spool.open(tempDir(), { sessionId: "sess-g", quotaBytes: 1e6 });
    await spoolChunk(spool, "listed 0");
    const events: UploadEvent[] = [];
    // Fault injection on the real spool: one listing is returned only after chunk 0's upload has
    // finished and deleted its files — the interleaving a loaded machine produces now and then.
    const list = spool.pending.bind(spool);
    let armed = false;
    spool.pending = async () => {
      const metas = await list();
      if (armed) {
        armed = false;
        await until("chunk 0 uploaded", () => events.some((e) => e.kind === "uploaded" && e.index === 0), { intervalMs: 5 });
      }
      return metas;
    };
    const running = uploader(spool, server, events).run({ signal: AbortSignal.timeout(20_000), done: () => true });
    await until("the first attempt", () => server.attempts === 1, { intervalMs: 5 });
    armed = true;
    await spoolChunk(spool, "listed 1"); // wakes the uploader, which lists chunks 0 (in flight) and 1
    await running;
    expect(events).toEqual([
      { kind: "uploaded", index: 0, status: 201 },
      { kind: "uploaded", index: 1, status: 201 },
    ]);
    expect(server.attempts).toBe(2);
    expect(await list()).toEqual([]);
  }, 30_000);

  it("re-uploading an acknowledged-but-unrecorded chunk is answered 200 and stored once", async () => {
    const server = await newServer();
    const dir = tempDir();
    const spool = await Spool.open(dir, { sessionId: "sess-c", quotaBytes: 1e6 });
    await spoolChunk(spool, "once");
    const events: UploadEvent[] = [];
    // First upload succeeds, but pretend the agent died before deleting: copy the chunk back.
    const { readFileSync, writeFileSync } = await import("node:fs");
    const bin = readFileSync(spool.binPath(0));
    const meta = readFileSync(spool.binPath(0).replace(/\.bin$/, ".json"));
    await uploader(spool, server).run({ signal: new AbortController().signal, done: () => true });
    writeFileSync(spool.binPath(0), bin);
    writeFileSync(spool.binPath(0).replace(/\.bin$/, ".json"), meta);
    const reopened = await Spool.open(dir, { quotaBytes: 1e6 });
    await uploader(reopened, server, events).run({ signal: new AbortController().signal, done: () => true });
    expect(events).toEqual([{ kind: "uploaded", index: 0, status: 200 }]);
    expect(server.session("sess-c").size).toBe(1);
  });

  it("keeps a chunk the server refuses (409: another digest at that index) and reports it", async () => {
    const server = await newServer();
    const spool = await Spool.open(tempDir(), { sessionId: "sess-d", quotaBytes: 1e6 });
    server.session("sess-d").set(0, { body: Buffer.from("x"), sha256: "0".repeat(64), headers: {}, stores: 1 });
    await spoolChunk(spool, "mine");
    await spoolChunk(spool, "next");
    const events: UploadEvent[] = [];
    const up = uploader(spool, server, events);
    await up.run({ signal: new AbortController().signal, done: () => true });
    expect(up.rejected.get(0)).toMatch(/HTTP 409/);
    expect((await spool.pending()).map((m) => m.index)).toEqual([0]);
    expect(server.session("sess-d").has(1)).toBe(true);
  });

  it("repairs after a crash: drops half-written files, keeps complete chunks, continues the index", async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, { sessionId: "sess-e", quotaBytes: 1e6 });
    await spoolChunk(spool, "zero");
    await spoolChunk(spool, "one");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(spool.chunksDir, "0000000002.bin"), "half"); // died before its .json
    writeFileSync(join(spool.chunksDir, "0000000003.json.tmp"), "{");
    const reopened = await Spool.open(dir, { quotaBytes: 1e6 });
    expect(reopened.sessionId).toBe("sess-e");
    expect(reopened.nextIndex).toBe(2);
    expect(readdirSync(reopened.chunksDir).sort()).toEqual(["0000000000.bin", "0000000000.json", "0000000001.bin", "0000000001.json"]);
    await expect(Spool.open(dir, { sessionId: "other", quotaBytes: 1e6 })).rejects.toThrow(/holds session sess-e/);
    writeFileSync(join(dir, "lock"), String(process.ppid)); // a live process owns it
    await expect(Spool.open(dir, { quotaBytes: 1e6 })).rejects.toThrow(`spool ${dir} is in use by process ${process.ppid}`);
    const inspected = await Spool.inspect(dir); // status still works, read-only
    expect(inspected.pending.map((m) => m.index)).toEqual([0, 1]);
  });

  it("refuses a chunk over the quota with a clear error and writes nothing", async () => {
    const spool = await Spool.open(tempDir(), { sessionId: "sess-f", quotaBytes: 2000 });
    await spoolChunk(spool, "small"); // ~400 bytes with its metadata
    const incompressible = randomBytes(3000).toString("base64");
    const error = await spoolChunk(spool, incompressible).catch((e) => e);
    expect(error).toBeInstanceOf(SpoolFullError);
    expect(String(error)).toMatch(/is full: \d+ bytes waiting for upload \+ \d+ for chunk 1 exceed the quota of 2000 bytes/);
    expect((await spool.pending()).map((m) => m.index)).toEqual([0]);
  });
});
