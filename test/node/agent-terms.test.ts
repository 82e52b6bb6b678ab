// A chunk's search terms (issue #20): spooled beside the sealed chunk, sent by the spool drainer
// right after the chunk is acknowledged, with the node credential. The server is the ChunkServer
// double of our own sessions API (test/node/helpers/chunk-server.ts), which speaks the terms
// contract: the real route is covered by the e2e project.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SpoolDrainer } from "../../pi-agent/lib/node/spool-drainer.ts";
import { sealChunk } from "../../pi-agent/lib/seal.ts";
import { Spool } from "../../pi-agent/lib/spool.ts";
import { TermsCollector, type ChunkTerms } from "../../pi-agent/lib/terms.ts";
import { ChunkServer } from "./helpers/chunk-server.ts";
import { until } from "./helpers/until.ts";

const key = new Uint8Array(32).fill(3);
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A spool left by a stopped recorder: one sealed chunk per entry, with the entry's terms (or none). */
async function leftBehind(root: string, sessionId: string, terms: (ChunkTerms | null)[]): Promise<string> {
  const dir = join(root, sessionId);
  const spool = await Spool.open(dir, { sessionId, quotaBytes: 1e7 });
  for (const t of terms) {
    const index = spool.takeIndex();
    const sealed = sealChunk({
      plain: new TextEncoder().encode(`${sessionId} ${index} `.repeat(100)),
      sessionId,
      index,
      key,
      zstdLevel: 1,
    });
    await spool.writeSealed(index, sealed, { start: 1000 + index, end: 2000 + index }, t);
  }
  spool.close();
  return dir;
}

const files = (dir: string) => readdirSync(join(dir, "chunks")).sort();

async function setUp(root?: string, server?: ChunkServer) {
  if (!server) {
    server = new ChunkServer("node-token");
    await server.start();
    const started = server;
    cleanup.push(() => started.stop());
  }
  if (!root) {
    root = mkdtempSync(join(tmpdir(), "lucid-terms-"));
    const made = root;
    cleanup.push(() => rmSync(made, { recursive: true, force: true }));
  }
  const lines: string[] = [];
  const drainer = new SpoolDrainer({
    spoolRoot: join(root, "spool"),
    server: server.url,
    token: server.token,
    owned: () => new Set(),
    log: (l) => lines.push(l),
    minBackoffMs: 5,
    maxBackoffMs: 40,
  });
  cleanup.push(() => drainer.close());
  return { server, root, spoolRoot: join(root, "spool"), lines, drainer };
}

const ledger: ChunkTerms = { titles: ["Ledger 2026 – Excel"], words: ["invoice", "total42"] };

describe("chunk search terms", () => {
  it("collects titles and typed words as the server indexes them: NFKC, lower case, split on all but letters and digits", () => {
    const terms = new TermsCollector();
    terms.addTitle("Ｑuarterly Report");
    terms.addTitle("Ｑuarterly Report");
    terms.addText("Héllo, WORLD! ﬁle x 2026-12 ");
    terms.addText("a".repeat(65));
    expect(terms.take()).toEqual({ titles: ["Ｑuarterly Report"], words: ["héllo", "world", "file", "2026", "12"] });
    expect(terms.take()).toEqual({ titles: [], words: [] });
  });

  it("follow their chunk once it is acknowledged, with the node credential; a chunk without terms sends none", async () => {
    const { server, spoolRoot, drainer } = await setUp();
    const dir = await leftBehind(spoolRoot, "sess-terms", [ledger, null]);
    expect(files(dir)).toEqual(["0000000000.bin", "0000000000.json", "0000000000.terms", "0000000001.bin", "0000000001.json"]);
    drainer.kick();
    await drainer.idle();
    expect([...server.session("sess-terms").keys()].sort()).toEqual([0, 1]);
    expect(server.terms).toEqual([{ sessionId: "sess-terms", index: 0, ...ledger }]);
    expect(server.termsAttempts).toBe(1); // no request for the chunk without terms
    expect(files(dir)).toEqual([]);
  });

  it("a 409 interaction-policy drops them, says so, and the chunk is still uploaded", async () => {
    const { server, spoolRoot, lines, drainer } = await setUp();
    server.termsAnswer = "policy";
    const dir = await leftBehind(spoolRoot, "sess-policy", [ledger]);
    drainer.kick();
    await drainer.idle();
    expect(server.session("sess-policy").has(0)).toBe(true);
    expect(server.terms).toEqual([]);
    expect(files(dir)).toEqual([]);
    expect(lines.some((l) => l.startsWith("spool sess-policy: terms of chunk 0 dropped:"))).toBe(true);
  });

  it("other failures are retried like chunks without holding chunks back, and terms left by a stop go up next pass", async () => {
    const { server, root, spoolRoot, drainer } = await setUp();
    server.termsAnswer = 503;
    const dir = await leftBehind(spoolRoot, "sess-retry", [ledger, ledger, ledger]);
    drainer.kick();
    // Every chunk goes up (2 at a time) while the terms of each are still being retried.
    await until("chunks up, terms retried", () => server.session("sess-retry").size === 3 && server.termsAttempts >= 6);
    await drainer.close(); // stopped mid-retry: the chunks are acknowledged, their terms stay spooled
    expect(files(dir)).toEqual(["0000000000.terms", "0000000001.terms", "0000000002.terms"]);
    expect((await Spool.inspect(dir)).pendingTerms).toEqual([0, 1, 2]);

    server.termsAnswer = "store";
    const next = await setUp(root, server);
    next.drainer.kick();
    await next.drainer.idle();
    expect(server.terms.map((t) => t.index).sort()).toEqual([0, 1, 2]);
    expect(server.terms[0]).toMatchObject(ledger);
    expect(files(dir)).toEqual([]);
    expect(server.attempts).toBe(3); // each chunk itself was sent once
  });

  it("after a crash, the terms of a chunk never committed are removed, those of an acknowledged chunk kept", async () => {
    const root = mkdtempSync(join(tmpdir(), "lucid-terms-"));
    cleanup.push(() => rmSync(root, { recursive: true, force: true }));
    const dir = await leftBehind(root, "sess-crash", [ledger, ledger]);
    const spool = await Spool.open(dir, { quotaBytes: 1e7 });
    await spool.acknowledge(0); // chunk 0 went up; its terms wait
    spool.close();
    // A crash while chunk 2 was written: its .bin and .terms but no .json.
    writeFileSync(join(dir, "chunks", "0000000002.bin"), "x");
    writeFileSync(join(dir, "chunks", "0000000002.terms"), JSON.stringify(ledger));
    // Seen while it is being written, chunk 2's terms are not offered: its chunk is not acknowledged.
    expect((await Spool.inspect(dir)).pendingTerms).toEqual([0]);
    const reopened = await Spool.open(dir, { quotaBytes: 1e7 });
    cleanup.push(() => reopened.close());
    expect(files(dir)).toEqual(["0000000000.terms", "0000000001.bin", "0000000001.json", "0000000001.terms"]);
    expect(await reopened.pendingTerms()).toEqual([0]);
    expect(await reopened.readTerms(1)).toEqual(ledger);
    expect(reopened.nextIndex).toBe(2);
    expect(existsSync(join(dir, "chunks", "0000000002.terms"))).toBe(false);
  });
});
