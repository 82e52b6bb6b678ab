// GET /api/v1/sessions/{id}/package: a recorded session anchored by the real chain, packed as a
// stream and checked offline by shared/package/verify.ts against the chain's genesis hash; every
// link attacked once (a chunk, a proof, a block header, the producer set, a forged producer, another
// deployment's genesis) is named.
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { genesisHeader } from "../../shared/chain/block.ts";
import { chunkAad } from "../../shared/chunk.ts";
import { packageInfo } from "../../shared/package/format.ts";
import { fromBase64, unwrapKeyShare, type KeyShare } from "../../shared/recording/key-share.ts";
import { bytesSource, listTar } from "../../shared/package/tar.ts";
import { verifyPackage, type PackageResult } from "../../shared/package/verify.ts";
import { api } from "./helpers.ts";
import { flipByte, flipHexDigit, forgeAnchorBlock, PACKAGE_CHECKS } from "./package-tamper.ts";
import { chunkBytes, env, putChunk, recordingSession, settle, userHeaders } from "./session-helpers.ts";

const chain = env.CHAIN.get(env.CHAIN.idFromName("lucid-chain"));
let sessionId = "";
let pkg = new Uint8Array();
let genesisHash = "";
const plain0 = chunkBytes(0, 5000);
const nonce0 = new Uint8Array(24).fill(0xab);
const auditor = x25519.keygen();
const passphrase = "the court's long passphrase";
const shareIds: string[] = [];

const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16));
const failedAt = (result: PackageResult) => (result.ok ? "ok" : result.failure.step);

beforeAll(async () => {
  const s = await recordingSession("pk-owner", "pk-node");
  sessionId = s.id;
  // Chunk 0 is really sealed with the session's data key (the upload helpers' nonce), so a share can be shown to open it.
  const key = fromBase64(
    ((await (await api(`/api/v1/sessions/${s.id}/key`, { headers: await userHeaders("pk-owner") })).json()) as { key: string }).key,
  );
  const sealed0 = xchacha20poly1305(key, nonce0, chunkAad(s.id, 0)).encrypt(plain0);
  expect((await putChunk(s.id, 0, sealed0, "pk-node")).status).toBe(201);
  for (let i = 1; i < 3; i++) expect((await putChunk(s.id, i, chunkBytes(i, 5000 + i), "pk-node")).status).toBe(201);
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
  const headers = { ...(await userHeaders("pk-owner")), "Content-Type": "application/json" };
  for (const recipient of [
    { kind: "x25519", publicKey: bytesToHex(auditor.publicKey) },
    { kind: "passphrase", passphrase },
  ]) {
    const made = await api(`/api/v1/sessions/${s.id}/shares`, {
      method: "POST",
      headers,
      body: JSON.stringify({ label: `for ${recipient.kind}`, recipient }),
    });
    expect(made.status).toBe(201);
    shareIds.push(((await made.json()) as { id: string }).id);
  }
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
    for (const name of ["anchor/final.json", "anchor/interim.json", "proofs.json", "log/events.json", "log/audit.json", "keys/"])
      expect(names).toContain(name);
    expect(names.filter((n) => n.startsWith("chunks/"))).toEqual(["chunks/000000.bin", "chunks/000001.bin", "chunks/000002.bin"]);
    // The chunks are the stored ciphertext, byte for byte.
    const chunk1 = (await listTar(bytesSource(pkg))).find((m) => m.name === "chunks/000001.bin")!;
    expect(pkg.slice(chunk1.offset, chunk1.offset + chunk1.size)).toEqual(chunkBytes(1, 5001));

    const result = await verifyPackage(bytesSource(pkg), { genesis: genesisHash });
    expect(result.ok, JSON.stringify(result.checks)).toBe(true);
    expect(result.checks.map((c) => c.step)).toEqual(PACKAGE_CHECKS);
    expect(result.checks[1]!.message).toContain("is the trusted one");
    // The stats route shows the trust root.
    const stats = await (await api("/api/v1/chain/stats")).json<{ genesisHash: string }>();
    expect(stats.genesisHash).toBe(genesisHash);
  });

  it("carries every share's stored envelope under keys/, one of which opens chunk 0", async () => {
    const members = await listTar(bytesSource(pkg));
    const text = (name: string) => {
      const m = members.find((x) => x.name === name)!;
      return new TextDecoder().decode(pkg.slice(m.offset, m.offset + m.size));
    };
    expect(
      members
        .filter((m) => m.name.startsWith("keys/"))
        .map((m) => m.name)
        .sort(),
    ).toEqual(["keys/", ...shareIds.map((id) => `keys/${id}.json`)].sort());
    const listed = (
      (await (await api(`/api/v1/sessions/${sessionId}/shares`, { headers: await userHeaders("pk-owner") })).json()) as {
        items: { id: string; share: KeyShare }[];
      }
    ).items;
    const envelopes = shareIds.map((id) => JSON.parse(text(`keys/${id}.json`)) as KeyShare);
    // The envelope as stored, nothing else: no plaintext key anywhere in the package's metadata.
    expect(envelopes).toEqual(shareIds.map((id) => listed.find((l) => l.id === id)!.share));
    const [byKey, byPass] = envelopes;
    const manifest = packageInfo.parse(JSON.parse(text("lucid-package.json"))).manifest;
    const chunk0 = members.find((m) => m.name === "chunks/000000.bin")!;
    const sealed = pkg.slice(chunk0.offset, chunk0.offset + chunk0.size);
    for (const key of [await unwrapKeyShare(byPass, { passphrase }), await unwrapKeyShare(byKey, { secretKey: auditor.secretKey })]) {
      expect(xchacha20poly1305(key, fromHex(manifest.chunks[0]!.nonce), chunkAad(sessionId, 0)).decrypt(sealed)).toEqual(plain0);
    }
    await expect(unwrapKeyShare(byPass, { passphrase: "not the court's passphrase" })).rejects.toThrow(/does not open/);
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

  it("never packs a damaged stored chunk as genuine: the transfer breaks before the archive ends, the damage is recorded, then refused", async () => {
    const key = (await env.CHUNKS.list({ prefix: `sessions/${sessionId}/chunks/` })).objects.map((o) => o.key).sort()[1]!;
    const stored = new Uint8Array(await (await env.CHUNKS.get(key))!.arrayBuffer());
    const flipped = stored.slice();
    flipped[100]! ^= 1;
    await env.CHUNKS.put(key, flipped);
    const res = await api(`/api/v1/sessions/${sessionId}/package`, { headers: await userHeaders("pk-owner") });
    expect(res.status).toBe(200);
    let received = 0;
    const reader = res.body!.getReader();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received += value.byteLength;
        }
      })(),
    ).rejects.toThrow();
    // Never the whole archive: chunk 2 and the end-of-archive blocks are not sent.
    expect(received).toBeLessThan(pkg.length);
    await vi.waitFor(async () => {
      const view = (await (await api(`/api/v1/sessions/${sessionId}`, { headers: await userHeaders("pk-owner") })).json()) as {
        lastIntegrityCheck: unknown;
      };
      expect(view.lastIntegrityCheck).toMatchObject({ source: "read", ok: false, badChunks: [{ index: 1, reason: "digest" }] });
    });
    const alerts = await env.ADMIN.get(env.ADMIN.idFromName("admin")).listAlerts({ limit: 200 });
    expect(alerts.find((a) => a.key === `integrity:session:${sessionId}`)).toMatchObject({ severity: "critical" });
    // From now on the package is refused before a byte is sent.
    const again = await api(`/api/v1/sessions/${sessionId}/package`, { headers: await userHeaders("pk-owner") });
    expect(again.status).toBe(500);
    expect(await again.json()).toMatchObject({ type: "/problems/chunk-corrupt", index: 1 });
    await env.CHUNKS.put(key, stored);
  });
});
