import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AnchorEvidence, AnchorLookup } from "../../durable-objects/chain/index.ts";
import { chunkStoreFor } from "../../platform/chunk-store/index.ts";
import { producerSetOf } from "../../shared/chain/block.ts";
import { ApiError } from "../../shared/errors.ts";
import { MerkleTree, toHex } from "../../shared/merkle/index.ts";
import {
  chunkPath,
  HEADERS_PER_FILE,
  headersPath,
  keySharePath,
  PACKAGE_FORMAT,
  PACKAGE_VERSION,
  PATHS,
} from "../../shared/package/format.ts";
import { chunkLeafHashes, type Manifest } from "../../shared/session.ts";
import { chainStub } from "../chain/index.ts";
import { verifierPage } from "../dashboard/index.ts";
import { callDurableObject } from "../do-call.ts";
import { createApp, routesTagged } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { actorOf, CALLER_CHECKED, callSession, sessionStub } from "./context.ts";
import { chunkCorrupt, reportDamagedChunk } from "./integrity.ts";
import { packageStream, type MetaEntry, type PackDamage, type PackedChunk } from "./package-stream.ts";
import { SessionIdParam } from "./schemas.ts";
import { singleton } from "../../platform/objects.ts";

const route = routesTagged("sessions");

const getPackage = route(
  "GET /{id}/package",
  "The recording package (lucid-package/1, a ustar archive): chunks, proofs, chain from genesis, anchors, logs",
  CALLER_CHECKED,
  { 200: { description: "The package", content: { "application/x-tar": { schema: z.string().openapi({ format: "binary" }) } } } },
  [400, 401, 403, 404, 409, 410, 429, 500],
  {
    description:
      "Everything needed to check the recording offline against the chain's genesis hash (docs/package.md), streamed " +
      "chunk by chunk from the chunk store. For the session's owner or an admin, once the final anchor is in a block.",
    request: { params: SessionIdParam },
  },
);

/** GET /api/v1/sessions/{id}/package: the evidence route's checks, then the archive as a stream. */
export const packageRoutes = createApp().openapi(getPackage, async (c) => {
  const { id } = c.req.valid("param");
  const actor = actorOf(c);
  const stub = sessionStub(c, id);
  const session = await callSession("get", () => stub.get(actor));
  const manifest = await callSession("manifest", () => stub.manifest(actor));
  const chain = chainStub(c.env);
  // Everything else at once (each answer is small): a package's fixed cost is these round trips.
  const [locations, anchor, interim, info, genesis, events, audit, shares, verifier] = await Promise.all([
    Promise.all(manifest.chunks.map((chunk) => callSession("chunkLocation", () => stub.chunkLocation(actor, chunk.index)))),
    callDurableObject("ChainDO", "anchorEvidence", () => chain.anchorEvidence(id)) as Promise<AnchorLookup>,
    callDurableObject("ChainDO", "interimAnchors", () => chain.interimAnchors(id)),
    callDurableObject("ChainDO", "info", () => chain.info()),
    callDurableObject("ChainDO", "blockByHeight", () => chain.blockByHeight(0)),
    callSession("events", () => stub.events(actor)),
    auditEntries(c, id),
    // Every share of the data key, as stored: wrapped envelopes only, the plaintext key stays here.
    callSession("shares", () => stub.shares(actor)),
    verifierPage(c.env),
  ]);
  // The package carries the chunks: the caller must be allowed to download them (chunkLocation
  // checks), and a chunk already known damaged is refused, before a byte is sent.
  const chunks: PackedChunk[] = manifest.chunks.map((chunk, i) => {
    const location = locations[i]!;
    if (location.damaged) throw chunkCorrupt(chunk.index);
    return { index: chunk.index, name: chunkPath(chunk.index), storeKey: location.storeKey, size: location.size, sha256: location.sha256 };
  });
  if (!anchor || "pending" in anchor || anchor.tx.interim) {
    throw new ApiError(
      "conflict",
      anchor && !("pending" in anchor) ? "The session's final anchor waits for its block." : "The session is not anchored yet.",
      { state: session.state },
    );
  }
  const top = Math.max(
    anchor.block.header.height,
    anchor.tron?.headers.at(-1)?.header.height ?? 0,
    ...interim.map((a) => a.block.header.height),
  );

  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 1));
  const meta = async function* (): AsyncGenerator<MetaEntry> {
    yield {
      name: PATHS.info,
      kind: "file",
      bytes: json({
        format: PACKAGE_FORMAT,
        version: PACKAGE_VERSION,
        createdAt: new Date().toISOString(),
        session: { id, owner: session.ownerId, node: session.nodeId, state: session.state },
        manifest,
      }),
    };
    yield {
      name: PATHS.genesis,
      kind: "file",
      bytes: json({ header: genesis!.header, hash: genesis!.hash, producerSet: producerSetOf(info.producers) }),
    };
    yield {
      name: PATHS.producers,
      kind: "file",
      bytes: json([{ fromHeight: 0, source: "genesis", producers: producerSetOf(info.producers).producers }]),
    };
    for (let from = 1; from <= top; from += HEADERS_PER_FILE) {
      const page = await callDurableObject("ChainDO", "range", () => chain.range(from, Math.min(HEADERS_PER_FILE, top - from + 1)));
      yield { name: headersPath(from), kind: "file", bytes: json(page) };
    }
    yield { name: PATHS.finalAnchor, kind: "file", bytes: json(anchor) };
    yield { name: PATHS.interimAnchors, kind: "file", bytes: json(interim satisfies AnchorEvidence[]) };
    yield { name: PATHS.proofs, kind: "file", bytes: json(chunkProofs(manifest)) };
    yield {
      name: PATHS.events,
      kind: "file",
      bytes: json(
        events.map((e) => ({
          ...e,
          at: new Date(e.at).toISOString(),
          detail: e.detail === null ? null : (JSON.parse(e.detail) as unknown),
        })),
      ),
    };
    yield { name: PATHS.audit, kind: "file", bytes: json(audit) };
    yield { name: PATHS.keysDir, kind: "dir" };
    for (const share of shares) yield { name: keySharePath(share.id), kind: "file", bytes: json(share.share) };
    if (verifier) yield { name: PATHS.verifier, kind: "file", bytes: verifier };
  };
  // A chunk whose stored bytes no longer match breaks the transfer (the archive never ends) and is
  // recorded as a download's damage would be: marked on the session, audited, alerted.
  const onDamage = ({ reason, ...damage }: PackDamage) =>
    reportDamagedChunk(c, { sessionId: id, ...damage, reason: reason === "missing" ? "size" : reason });
  const { body, done } = packageStream(chunkStoreFor(c.env), meta(), chunks, Math.floor(Date.now() / 1000), onDamage);
  c.executionCtx.waitUntil(done);
  return new Response(body, {
    status: 200,
    headers: { "Content-Type": "application/x-tar", "Content-Disposition": `attachment; filename="session-${id}.lucid.tar"` },
  });
});

/** Each chunk's inclusion proof in the session's final tree, from the manifest's hashes. */
function chunkProofs(manifest: Manifest) {
  const tree = MerkleTree.fromLeafHashes(chunkLeafHashes(manifest.chunks.map((c) => c.sha256)));
  return manifest.chunks.map((c) => ({ index: c.index, treeSize: manifest.treeSize, path: tree.inclusionProof(c.index).map(toHex) }));
}

/** Audit entries whose target is the session (terminations, key releases, integrity events), oldest first. */
async function auditEntries(c: Context<AppEnv>, sessionId: string) {
  const stub = singleton(c.env, "AUDIT");
  const items = [];
  let beforeId: number | undefined;
  for (let page = 0; page < 20; page++) {
    const result = await callDurableObject("AuditDO", "search", () => stub.search({ targetId: sessionId, limit: 500, beforeId }));
    items.push(...result.items);
    if (result.nextBeforeId === null) break;
    beforeId = result.nextBeforeId;
  }
  return items.reverse().map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
}
