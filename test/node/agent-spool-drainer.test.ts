// The agent's spool drainer on real spools and a real HTTP chunk server: what stopped servers'
// recorders left behind goes up once writes are allowed, never a spool a recorder still owns.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SpoolDrainer } from "../../pi-agent/lib/node/spool-drainer.ts";
import { sealChunk } from "../../pi-agent/lib/seal.ts";
import { Spool } from "../../pi-agent/lib/spool.ts";
import { ChunkServer } from "./helpers/chunk-server.ts";
import { until } from "./helpers/until.ts";

const key = new Uint8Array(32).fill(9);
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A spool under `root` for `sessionId` holding `count` sealed chunks, left unlocked as a stopped recorder leaves it. */
async function leftBehind(root: string, sessionId: string, count: number): Promise<void> {
  const spool = await Spool.open(join(root, sessionId), { sessionId, quotaBytes: 1e7 });
  for (let i = 0; i < count; i++) {
    const index = spool.takeIndex();
    const sealed = sealChunk({
      plain: new TextEncoder().encode(`${sessionId} ${index} `.repeat(200)),
      sessionId,
      index,
      key,
      zstdLevel: 1,
    });
    await spool.writeSealed(index, sealed, { start: 1000 + index, end: 2000 + index });
  }
  spool.close();
}

/** Another live process holding the spool's lock, as a recorder does while it records. */
function lockedByRecorder(dir: string): () => void {
  const recorder = spawn("sleep", ["60"], { stdio: "ignore" });
  writeFileSync(join(dir, "lock"), String(recorder.pid), { mode: 0o600 });
  return () => {
    recorder.kill("SIGKILL");
    rmSync(join(dir, "lock"), { force: true });
  };
}

async function setUp() {
  const server = new ChunkServer("node-token");
  await server.start();
  cleanup.push(() => server.stop());
  const root = mkdtempSync(join(tmpdir(), "lucid-drain-"));
  cleanup.push(() => rmSync(root, { recursive: true, force: true }));
  const owned = new Set<string>();
  const lines: string[] = [];
  const drainer = new SpoolDrainer({
    spoolRoot: join(root, "spool"),
    server: server.url,
    token: server.token,
    owned: () => owned,
    log: (l) => lines.push(l),
    minBackoffMs: 5,
    maxBackoffMs: 40,
  });
  cleanup.push(() => drainer.close());
  return { server, spoolRoot: join(root, "spool"), owned, lines, drainer };
}

describe("spool drainer", () => {
  it("sends nothing while writes are held, everything once they are allowed, and skips owned and locked spools", async () => {
    const { server, spoolRoot, owned, lines, drainer } = await setUp();
    await leftBehind(spoolRoot, "sess-stopped-1", 3);
    await leftBehind(spoolRoot, "sess-stopped-2", 2);
    await leftBehind(spoolRoot, "sess-owned", 2);
    await leftBehind(spoolRoot, "sess-locked", 2);
    const letGo = lockedByRecorder(join(spoolRoot, "sess-locked"));
    cleanup.push(letGo);
    owned.add("sess-owned");

    drainer.setWritesHeld(true); // lockdown, as the agent starts
    drainer.kick();
    await drainer.idle();
    expect(server.attempts).toBe(0);

    drainer.setWritesHeld(false); // lifted: a pass starts by itself
    await drainer.idle();
    expect([...server.session("sess-stopped-1").keys()].sort()).toEqual([0, 1, 2]);
    expect([...server.session("sess-stopped-2").keys()].sort()).toEqual([0, 1]);
    expect(server.session("sess-owned").size).toBe(0); // its server's recorder uploads it
    expect(server.session("sess-locked").size).toBe(0); // a live recorder holds its lock
    expect((await Spool.inspect(join(spoolRoot, "sess-stopped-1"))).pending).toEqual([]);
    expect((await Spool.inspect(join(spoolRoot, "sess-owned"))).pending).toHaveLength(2);
    expect(lines).toContain("spool sess-stopped-1: every chunk uploaded");

    // Once the server is gone and the recorder has let go, the next pass takes both.
    owned.delete("sess-owned");
    letGo();
    drainer.kick();
    await drainer.idle();
    expect(server.session("sess-owned").size).toBe(2);
    expect(server.session("sess-locked").size).toBe(2);
    expect(server.attempts).toBe(9); // each chunk once: nothing sent twice
  });

  it("a chunk refused for good stays spooled and is not offered again by the next passes", async () => {
    const { server, spoolRoot, lines, drainer } = await setUp();
    await leftBehind(spoolRoot, "sess-refused", 3);
    // The server already holds other bytes at index 1: it answers 409 for ours.
    server.session("sess-refused").set(1, { body: Buffer.from("other"), sha256: "0".repeat(64), headers: {}, stores: 1 });
    drainer.kick();
    await drainer.idle();
    const attempts = server.attempts;
    expect([...server.session("sess-refused").keys()].sort()).toEqual([0, 1, 2]);
    expect((await Spool.inspect(join(spoolRoot, "sess-refused"))).pending.map((m) => m.index)).toEqual([1]);
    drainer.kick();
    await drainer.idle();
    expect(server.attempts).toBe(attempts);
    expect(lines.filter((l) => l.includes("chunk 1 refused (HTTP 409)"))).toHaveLength(1);
  });

  it("a lockdown during a pass holds the rest in the spool until it is lifted", async () => {
    const { server, spoolRoot, lines, drainer } = await setUp();
    await leftBehind(spoolRoot, "sess-long", 6);
    server.goDown(); // every attempt fails until the lockdown below
    drainer.kick();
    await until("the pass to start", () => lines.some((l) => l.includes("spool sess-long: uploading")), { intervalMs: 5 });
    // The hold ends the pass: were it ignored, the pass would retry against the dead server forever.
    // The server comes back only after it ended, since a PUT already in flight is allowed to finish.
    drainer.setWritesHeld(true);
    await drainer.idle();
    server.comeBack();
    drainer.kick(); // held: no pass starts
    await drainer.idle();
    expect(server.session("sess-long").size).toBe(0);
    expect((await Spool.inspect(join(spoolRoot, "sess-long"))).pending).toHaveLength(6);
    drainer.setWritesHeld(false);
    await drainer.idle();
    expect([...server.session("sess-long").keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
