import { describe, expect, it } from "vitest";
import { fromHex, MerkleTree, toHex, verifyConsistency, verifyInclusion } from "../../shared/merkle/index.ts";
import { chunkLeafHashes, verifyManifest, type Manifest } from "../../shared/session.ts";
import { api, problemOf } from "./helpers.ts";
import {
  chunkBytes,
  createSession,
  env,
  hex,
  nodeHeaders,
  putChunk,
  recordingSession,
  settle,
  sha256,
  storedChunks,
  uploadHeaders,
  userHeaders,
  type SessionJson,
} from "./session-helpers.ts";

const getSession = async (id: string, owner: string) =>
  (await (await api(`/api/v1/sessions/${id}`, { headers: await userHeaders(owner) })).json()) as SessionJson;
const stop = async (id: string, owner: string, body?: unknown) =>
  api(`/api/v1/sessions/${id}/stop`, {
    method: "POST",
    headers: await userHeaders(owner),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe("chunk ingest", { timeout: 60_000 }, () => {
  it("stores a chunk, answers a receipt and keeps its metadata", async () => {
    const s = await recordingSession("u1", "n1");
    const bytes = chunkBytes(0);
    const res = await putChunk(s.id, 0, bytes, "n1");
    expect(res.status).toBe(201);
    const receipt = (await res.json()) as { sha256: string; size: number; index: number; sessionId: string };
    expect(receipt).toMatchObject({ sessionId: s.id, index: 0, size: bytes.length, sha256: hex(await sha256(bytes)) });
    const stored = await storedChunks(s.id);
    expect(stored).toHaveLength(1);
    expect(new Uint8Array(await (await env.CHUNKS.get(stored[0]!.key))!.arrayBuffer())).toEqual(bytes);
    expect((await getSession(s.id, "u1")).chunks).toEqual({ count: 1, contiguous: 1, bytes: bytes.length });
  });

  it("wrong hash: 400 and nothing kept", async () => {
    const s = await recordingSession("u2", "n2");
    const res = await putChunk(s.id, 0, chunkBytes(0), "n2", { "Content-Digest": (await uploadHeaders(chunkBytes(1)))["Content-Digest"] });
    expect(res.status).toBe(400);
    expect(await problemOf(res)).toMatchObject({ type: "/problems/digest-mismatch", index: 0 });
    expect(await storedChunks(s.id)).toHaveLength(0);
    expect((await getSession(s.id, "u2")).chunks.count).toBe(0);
    // The index is still free for the right bytes.
    expect((await putChunk(s.id, 0, chunkBytes(0), "n2")).status).toBe(201);
  });

  it("oversized body: 413 before reading it", async () => {
    const s = await recordingSession("u3", "n3");
    const big = new Uint8Array(16 * 1024 * 1024 + 1);
    const res = await putChunk(s.id, 0, big, "n3");
    expect(res.status).toBe(413);
    expect(await problemOf(res)).toMatchObject({ type: "/problems/payload-too-large", limit: 16 * 1024 * 1024 });
    expect(await storedChunks(s.id)).toHaveLength(0);
  });

  it("accepts a chunk larger than the gateway's 1 MB JSON limit", async () => {
    const s = await recordingSession("u3b", "n3b");
    const res = await putChunk(s.id, 0, chunkBytes(0, 3 * 1024 * 1024), "n3b");
    expect(res.status).toBe(201);
  });

  it("refuses malformed uploads with clear problems", async () => {
    const s = await recordingSession("u4", "n4");
    const bytes = chunkBytes(0);
    expect((await putChunk(s.id, 0, bytes, "n4", { "Content-Type": "application/json" })).status).toBe(415);
    const badNonce = await putChunk(s.id, 0, bytes, "n4", { "Lucid-Chunk-Nonce": "xyz" });
    expect(badNonce.status).toBe(400);
    expect(((await problemOf(badNonce)).errors as { path: string }[])[0]!.path).toBe("lucid-chunk-nonce");
    expect((await putChunk(s.id, 0, bytes, "n4", { "Content-Digest": "md5=:abc:" })).status).toBe(400);
    expect((await putChunk(s.id, 0, bytes, "n4", { "Lucid-Capture-End": "1" })).status).toBe(400);
    const badIndex = await api(`/api/v1/sessions/${s.id}/chunks/01`, {
      method: "PUT",
      headers: { ...(await nodeHeaders("n4")), ...(await uploadHeaders(bytes)) },
      body: bytes,
    });
    expect(badIndex.status).toBe(400);
    const stream = await api(`/api/v1/sessions/${s.id}/chunks/0`, {
      method: "PUT",
      headers: { ...(await nodeHeaders("n4")), ...(await uploadHeaders(bytes)) },
      // A stream of unknown length: no Content-Length is sent.
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(stream.status).toBe(411);
    expect(await storedChunks(s.id)).toHaveLength(0);
  });

  it("a chunk for another session, an unassigned node, a user token or no token is refused", async () => {
    const mine = await recordingSession("u5", "n5");
    const other = await recordingSession("u5", "n5-other");
    const forOther = await putChunk(other.id, 0, chunkBytes(0), "n5");
    expect(forOther.status).toBe(403);
    expect((await problemOf(forOther)).detail).toMatch(/not assigned/);
    expect((await putChunk(mine.id, 0, chunkBytes(0), "stranger")).status).toBe(403);
    const asUser = await api(`/api/v1/sessions/${mine.id}/chunks/0`, {
      method: "PUT",
      headers: { Authorization: (await userHeaders("u5")).Authorization, ...(await uploadHeaders(chunkBytes(0))) },
      body: chunkBytes(0),
    });
    expect(asUser.status).toBe(403);
    const anonymous = await api(`/api/v1/sessions/${mine.id}/chunks/0`, {
      method: "PUT",
      headers: await uploadHeaders(chunkBytes(0)),
      body: chunkBytes(0),
    });
    expect(anonymous.status).toBe(401);
    const forged = await api(`/api/v1/sessions/${mine.id}/chunks/0`, {
      method: "PUT",
      headers: {
        Authorization: `Bearer ${(await nodeHeaders("n5")).Authorization.slice(7, -4)}AAAA`,
        ...(await uploadHeaders(chunkBytes(0))),
      },
      body: chunkBytes(0),
    });
    expect(forged.status).toBe(401);
    expect(await storedChunks(mine.id)).toHaveLength(0);
    expect(await storedChunks(other.id)).toHaveLength(0);
  });

  it("refuses uploads before start and after stop", async () => {
    const created = await createSession("u6", "n6");
    const early = await putChunk(created.id, 0, chunkBytes(0), "n6");
    expect(early.status).toBe(409);
    expect(await problemOf(early)).toMatchObject({ type: "/problems/invalid-state", state: "created" });
    const s = await recordingSession("u6", "n6");
    expect((await putChunk(s.id, 0, chunkBytes(0), "n6")).status).toBe(201);
    expect((await stop(s.id, "u6")).status).toBe(200);
    const late = await putChunk(s.id, 1, chunkBytes(1), "n6");
    expect(late.status).toBe(409);
    expect((await problemOf(late)).type).toBe("/problems/invalid-state");
    expect(await storedChunks(s.id)).toHaveLength(1);
  });

  it("duplicate upload of the same index and digest is idempotent; a different digest is 409", async () => {
    const s = await recordingSession("u7", "n7");
    const first = await putChunk(s.id, 0, chunkBytes(0), "n7");
    const again = await putChunk(s.id, 0, chunkBytes(0), "n7");
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(((await again.json()) as { sha256: string }).sha256).toBe(((await first.json()) as { sha256: string }).sha256);
    const different = await putChunk(s.id, 0, chunkBytes(0, 4096, 1), "n7");
    expect(different.status).toBe(409);
    expect(await problemOf(different)).toMatchObject({ type: "/problems/chunk-conflict", index: 0 });
    expect(await storedChunks(s.id)).toHaveLength(1);
  });

  it("concurrent uploads of the same index: one stored, the other answered 200 (same) or 409 (different)", async () => {
    const s = await recordingSession("u8", "n8");
    const same = await Promise.all([putChunk(s.id, 0, chunkBytes(0), "n8"), putChunk(s.id, 0, chunkBytes(0), "n8")]);
    expect(same.map((r) => r.status).sort()).toEqual([200, 201]);
    const different = await Promise.all([putChunk(s.id, 1, chunkBytes(1), "n8"), putChunk(s.id, 1, chunkBytes(1, 4096, 7), "n8")]);
    expect(different.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(await storedChunks(s.id)).toHaveLength(2);
    expect((await getSession(s.id, "u8")).chunks.count).toBe(2);
  });

  it("out-of-order indices are accepted; the tree follows index order", async () => {
    const s = await recordingSession("u9", "n9");
    for (const index of [2, 0, 3, 1]) expect((await putChunk(s.id, index, chunkBytes(index), "n9")).status).toBe(201);
    expect((await getSession(s.id, "u9")).chunks).toMatchObject({ count: 4, contiguous: 4 });
    expect((await stop(s.id, "u9")).status).toBe(200);
    expect(await settle(s.id, (state) => state === "stored")).toBe("stored");
    const manifest = (await (await api(`/api/v1/sessions/${s.id}/manifest`, { headers: await userHeaders("u9") })).json()) as Manifest;
    const hashes = await Promise.all([0, 1, 2, 3].map(async (i) => hex(await sha256(chunkBytes(i)))));
    expect(manifest.chunks.map((c) => c.sha256)).toEqual(hashes);
    expect(manifest.root).toBe(toHex(MerkleTree.fromLeafHashes(chunkLeafHashes(hashes)).root()));
    expect(verifyManifest(manifest)).toBe(true);
    expect((await getSession(s.id, "u9")).merkleRoot).toBe(manifest.root);
  });
});

describe("finalize, manifest and proofs", { timeout: 60_000 }, () => {
  it("finalize with gaps is refused with the missing indices and changes nothing", async () => {
    const s = await recordingSession("v1", "m1");
    for (const index of [0, 2, 5]) await putChunk(s.id, index, chunkBytes(index), "m1");
    const gaps = await stop(s.id, "v1");
    expect(gaps.status).toBe(409);
    expect(await problemOf(gaps)).toMatchObject({ type: "/problems/missing-chunks", missing: [1, 3, 4], treeSize: 6 });
    const declared = await stop(s.id, "v1", { chunkCount: 7 });
    expect(await problemOf(declared)).toMatchObject({ missing: [1, 3, 4, 6] });
    const tooFew = await stop(s.id, "v1", { chunkCount: 3 });
    expect(tooFew.status).toBe(409);
    expect((await getSession(s.id, "v1")).state).toBe("recording");
    for (const index of [1, 3, 4]) expect((await putChunk(s.id, index, chunkBytes(index), "m1")).status).toBe(201);
    const done = await stop(s.id, "v1");
    expect(done.status).toBe(200);
    expect(((await done.json()) as SessionJson).treeSize).toBe(6);
  });

  it("inclusion proofs verify against the manifest root with shared/merkle alone", async () => {
    const s = await recordingSession("v2", "m2");
    for (let i = 0; i < 7; i++) await putChunk(s.id, i, chunkBytes(i), "m2");
    const early = await api(`/api/v1/sessions/${s.id}/manifest`, { headers: await userHeaders("v2") });
    expect(early.status).toBe(409);
    await stop(s.id, "v2");
    expect(await settle(s.id, (state) => state === "stored")).toBe("stored");
    const manifest = (await (await api(`/api/v1/sessions/${s.id}/manifest`, { headers: await userHeaders("v2") })).json()) as Manifest;
    for (let i = 0; i < 7; i++) {
      const res = await api(`/api/v1/sessions/${s.id}/chunks/${i}/proof`, { headers: await userHeaders("v2") });
      expect(res.status).toBe(200);
      const proof = (await res.json()) as { leafHash: string; treeSize: number; root: string; path: string[]; sha256: string };
      expect(proof.root).toBe(manifest.root);
      expect(proof.sha256).toBe(manifest.chunks[i]!.sha256);
      expect(verifyInclusion(fromHex(proof.leafHash), i, proof.treeSize, proof.path.map(fromHex), fromHex(manifest.root))).toBe(true);
    }
    const outside = await api(`/api/v1/sessions/${s.id}/chunks/7/proof`, { headers: await userHeaders("v2") });
    expect(outside.status).toBe(404);
    const stranger = await api(`/api/v1/sessions/${s.id}/chunks/0/proof`, { headers: await userHeaders("eve") });
    expect(stranger.status).toBe(404);
    // The manifest is also in the chunk store, for offline verification.
    const copy = await env.CHUNKS.get(`sessions/${s.id}/manifest.json`);
    expect(((await copy!.json()) as Manifest).root).toBe(manifest.root);
  });

  it("consistency proofs link interim roots while recording", async () => {
    const s = await recordingSession("v3", "m3");
    for (let i = 0; i < 3; i++) await putChunk(s.id, i, chunkBytes(i), "m3");
    const first = (await (await api(`/api/v1/sessions/${s.id}/consistency?from=1&to=3`, { headers: await nodeHeaders("m3") })).json()) as {
      fromRoot: string;
      toRoot: string;
      proof: string[];
    };
    expect(verifyConsistency(1, 3, first.proof.map(fromHex), fromHex(first.fromRoot), fromHex(first.toRoot))).toBe(true);
    const notYet = await api(`/api/v1/sessions/${s.id}/consistency?from=3&to=6`, { headers: await userHeaders("v3") });
    expect(notYet.status).toBe(409);
    for (let i = 3; i < 6; i++) await putChunk(s.id, i, chunkBytes(i), "m3");
    const second = (await (await api(`/api/v1/sessions/${s.id}/consistency?from=3&to=6`, { headers: await userHeaders("v3") })).json()) as {
      fromRoot: string;
      toRoot: string;
      proof: string[];
    };
    // The interim root anchored at 3 chunks is the one the later proof starts from.
    expect(second.fromRoot).toBe(first.toRoot);
    expect(verifyConsistency(3, 6, second.proof.map(fromHex), fromHex(second.fromRoot), fromHex(second.toRoot))).toBe(true);
    const interim = (await (
      await api(`/api/v1/sessions/${s.id}/chunks/4/proof?treeSize=5`, { headers: await userHeaders("v3") })
    ).json()) as { root: string; path: string[]; leafHash: string };
    expect(verifyInclusion(fromHex(interim.leafHash), 4, 5, interim.path.map(fromHex), fromHex(interim.root))).toBe(true);
    const bad = await api(`/api/v1/sessions/${s.id}/consistency?from=0&to=3`, { headers: await userHeaders("v3") });
    expect(bad.status).toBe(400);
  });

  it("downloads a chunk whole or by Range, owner and admin only", async () => {
    const s = await recordingSession("v4", "m4");
    const bytes = chunkBytes(0, 1000);
    await putChunk(s.id, 0, bytes, "m4");
    const whole = await api(`/api/v1/sessions/${s.id}/chunks/0`, { headers: await userHeaders("v4") });
    expect(whole.status).toBe(200);
    expect(whole.headers.get("Accept-Ranges")).toBe("bytes");
    expect(whole.headers.get("Content-Digest")).toBe((await uploadHeaders(bytes))["Content-Digest"]);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
    const part = await api(`/api/v1/sessions/${s.id}/chunks/0`, { headers: { ...(await userHeaders("v4")), Range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("Content-Range")).toBe("bytes 10-19/1000");
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(10, 20));
    const suffix = await api(`/api/v1/sessions/${s.id}/chunks/0`, {
      headers: { ...(await userHeaders("root", "ADMIN")), Range: "bytes=-5" },
    });
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.subarray(995));
    const beyond = await api(`/api/v1/sessions/${s.id}/chunks/0`, { headers: { ...(await userHeaders("v4")), Range: "bytes=1000-" } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("Content-Range")).toBe("bytes */1000");
    expect((await api(`/api/v1/sessions/${s.id}/chunks/0`, { headers: await nodeHeaders("m4") })).status).toBe(403);
    expect((await api(`/api/v1/sessions/${s.id}/chunks/0`, { headers: await userHeaders("eve") })).status).toBe(404);
    expect((await api(`/api/v1/sessions/${s.id}/chunks/1`, { headers: await userHeaders("v4") })).status).toBe(404);
  });

  it("a truncated stored blob is a 500 problem without a stack, and an integrity event in the audit log", async () => {
    const s = await recordingSession("v5", "m5");
    const bytes = chunkBytes(0, 1000);
    await putChunk(s.id, 0, bytes, "m5");
    const [stored] = await storedChunks(s.id);
    // The disk (or bucket) loses the tail of the blob behind the server's back.
    await env.CHUNKS.put(stored!.key, bytes.subarray(0, 600));
    for (const range of [undefined, "bytes=10-19"]) {
      const res = await api(`/api/v1/sessions/${s.id}/chunks/0`, {
        headers: { ...(await userHeaders("v5")), ...(range ? { Range: range } : {}) },
      });
      expect(res.status).toBe(500);
      const text = await res.clone().text();
      expect(text).not.toMatch(/\bat .*\.(ts|js):\d+|Error:/);
      expect(await problemOf(res)).toMatchObject({ type: "/problems/chunk-corrupt", status: 500, index: 0 });
    }
    const events = await env.AUDIT.get(env.AUDIT.idFromName("audit")).list({ limit: 10, action: "chunks.integrity_failure" });
    const ours = events.filter((e) => e.targetId === s.id);
    // The first read found the damage and marked the chunk; the second is refused on that mark.
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ outcome: "failure", details: { index: 0, reason: "size", expected: 1000, found: 600 } });
  });
});
