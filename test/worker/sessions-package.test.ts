// GET /api/v1/sessions/{id}/package: a recorded session anchored by the real chain, packed as a
// stream and checked offline by shared/package/verify.ts against the chain's genesis hash; every
// link attacked once (a chunk, a proof, a block header, the producer set, a forged producer, another
// deployment's genesis) is named.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { genesisHeader } from "../../shared/chain/block.ts";
import { bytesSource, listTar } from "../../shared/package/tar.ts";
import { verifyPackage, type PackageResult } from "../../shared/package/verify.ts";
import { api } from "./helpers.ts";
import { flipByte, flipHexDigit, forgeAnchorBlock } from "./package-tamper.ts";
import { chunkBytes, env, putChunk, recordingSession, settle, userHeaders } from "./session-helpers.ts";

const chain = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
let sessionId = "";
let pkg = new Uint8Array();
let genesisHash = "";

const failedAt = (result: PackageResult) => (result.ok ? "ok" : result.failure.step);

beforeAll(async () => {
  const s = await recordingSession("pk-owner", "pk-node");
  sessionId = s.id;
  for (let i = 0; i < 3; i++) expect((await putChunk(s.id, i, chunkBytes(i, 5000 + i), "pk-node")).status).toBe(201);
  // Before the anchor: nothing to pack yet.
  await api(`/api/v1/sessions/${s.id}/stop`, { method: "POST", headers: await userHeaders("pk-owner") });
  expect(await settle(s.id, (st) => st === "stored")).toBe("stored");
  const early = await api(`/api/v1/sessions/${s.id}/package`, { headers: await userHeaders("pk-owner") });
  expect([409, 200]).toContain(early.status);
  await early.body?.cancel();
  await settle(s.id, () => false, 2);
  for (let i = 0; i < 10 && (await settle(s.id, () => true, 1)) !== "completed"; i++) {
    await runInDurableObject(chain, async (instance, ctx) => {
      const head = await instance.head();
      const { timing } = await instance.info();
      await instance.produceAt(Math.max(Date.now(), timing.genesisTime + (head.header.slot + 1) * timing.slotMs));
      ctx.storage.sql.exec("UPDATE anchor_notices SET next_at = 0");
    });
    await runDurableObjectAlarm(chain);
  }
  expect(await settle(s.id, (st) => st === "completed")).toBe("completed");
  const res = await api(`/api/v1/sessions/${s.id}/package`, { headers: await userHeaders("pk-owner") });
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toBe("application/x-tar");
  pkg = new Uint8Array(await res.arrayBuffer());
  genesisHash = (await chain.info()).genesisHash;
});

describe("GET /api/v1/sessions/{id}/package", () => {
  it("holds the documented members and verifies against the chain's genesis", async () => {
    const names = (await listTar(bytesSource(pkg))).map((m) => m.name);
    expect(names.slice(0, 3)).toEqual(["lucid-package.json", "chain/genesis.json", "chain/producers.json"]);
    for (const name of ["anchor/final.json", "anchor/interim.json", "proofs.json", "log/events.json", "log/audit.json", "keys/"]) expect(names).toContain(name);
    expect(names.filter((n) => n.startsWith("chunks/"))).toEqual(["chunks/000000.bin", "chunks/000001.bin", "chunks/000002.bin"]);
    // The chunks are the stored ciphertext, byte for byte.
    const chunk1 = (await listTar(bytesSource(pkg))).find((m) => m.name === "chunks/000001.bin")!;
    expect(pkg.slice(chunk1.offset, chunk1.offset + chunk1.size)).toEqual(chunkBytes(1, 5001));

    const result = await verifyPackage(bytesSource(pkg), { genesis: genesisHash });
    expect(result.ok, JSON.stringify(result.checks)).toBe(true);
    expect(result.checks.map((c) => c.step)).toEqual([
      "package", "genesis", "producer set", "chain", "anchor", "inclusion", "block", "signature", "tron anchor", "session root", "interim anchors", "proofs", "chunks",
    ]);
    expect(result.checks[1]!.message).toContain("is the trusted one");
    // The stats route shows the trust root.
    const stats = await (await api("/api/v1/chain/stats")).json<{ genesisHash: string }>();
    expect(stats.genesisHash).toBe(genesisHash);
  });

  it("names the broken link for one flipped byte in a chunk, a proof, a header and the producer set", async () => {
    const at = async (tampered: Uint8Array) => failedAt(await verifyPackage(bytesSource(tampered), { genesis: genesisHash }));
    expect(await at(await flipByte(pkg, "chunks/000002.bin"))).toBe("chunk 2");
    expect(await at(await flipHexDigit(pkg, "proofs.json", '"path": [', 1))).toBe("proof 1");
    expect(await at(await flipHexDigit(pkg, "chain/headers/000001.json", '"txRoot": "'))).toBe("chain");
    expect(await at(await flipHexDigit(pkg, "chain/genesis.json", '"producers": ['))).toBe("producer set");
    expect(await at(await flipHexDigit(pkg, "chain/producers.json", '"producers": ['))).toBe("producer set");
    expect(await at(await flipByte(pkg, "chain/genesis.json", 2))).toBe("genesis");
    expect(await at(await flipByte(pkg, "lucid-package.json", 0))).toBe("package");
  });

  it("refuses a block signed by a key outside the producer set, and another deployment's genesis", async () => {
    const forged = await verifyPackage(bytesSource(await forgeAnchorBlock(pkg)), { genesis: genesisHash });
    expect(failedAt(forged)).toBe("producer");
    expect(forged.ok ? "" : forged.failure.message).toMatch(/outside the producer set/);
    const other = genesisHeader("lucid-other", Date.parse("2026-01-01T00:00:00Z"), ["ab".repeat(32)]).hash;
    const foreign = await verifyPackage(bytesSource(pkg), { genesis: other });
    expect(failedAt(foreign)).toBe("genesis");
    expect(foreign.ok ? "" : foreign.failure.message).toMatch(/another deployment/);
  });

  it("is for the owner and admins only", async () => {
    expect((await api(`/api/v1/sessions/${sessionId}/package`, { headers: await userHeaders("someone-else") })).status).toBe(404);
    expect((await api(`/api/v1/sessions/${sessionId}/package`)).status).toBe(401);
    const admin = await api(`/api/v1/sessions/${sessionId}/package`, { headers: await userHeaders("root", "ADMIN") });
    expect(admin.status).toBe(200);
    expect(new Uint8Array(await admin.arrayBuffer()).length).toBe(pkg.length);
  });
});
