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
import { tarPieces, type TarEntry } from "../../shared/package/tar.ts";
import { chunkLeafHashes, type Manifest } from "../../shared/session.ts";
import { chainStub } from "../chain/index.ts";
import { verifierPage } from "../dashboard/index.ts";
import { callDurableObject } from "../do-call.ts";
import { createApp, routesTagged } from "../openapi.ts";
import type { AppEnv } from "../types.ts";
import { actorOf, CALLER_CHECKED, callSession, sessionStub } from "./context.ts";
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
  // The package carries the chunks: the caller must be allowed to download them (answered before streaming).
  await callSession("chunkLocation", () => stub.chunkLocation(actor, 0));
  const chain = chainStub(c.env);
  const anchor: AnchorLookup = await callDurableObject("ChainDO", "anchorEvidence", () => chain.anchorEvidence(id));
  if (!anchor || "pending" in anchor || anchor.tx.interim) {
    throw new ApiError(
      "conflict",
      anchor && !("pending" in anchor) ? "The session's final anchor waits for its block." : "The session is not anchored yet.",
      {
        state: session.state,
      },
    );
  }
  const interim = await callDurableObject("ChainDO", "interimAnchors", () => chain.interimAnchors(id));
  const info = await callDurableObject("ChainDO", "info", () => chain.info());
  const genesis = await callDurableObject("ChainDO", "blockByHeight", () => chain.blockByHeight(0));
  const events = await callSession("events", () => stub.events(actor));
  const audit = await auditEntries(c, id);
  // Every share of the data key, as stored: wrapped envelopes only, the plaintext key stays here.
  const shares = await callSession("shares", () => stub.shares(actor));
  const top = Math.max(
    anchor.block.header.height,
    anchor.tron?.headers.at(-1)?.header.height ?? 0,
    ...interim.map((a) => a.block.header.height),
  );

  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 1));
  const entries = async function* (): AsyncGenerator<TarEntry> {
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
    const verifier = await verifierPage(c.env);
    if (verifier) yield { name: PATHS.verifier, kind: "file", bytes: verifier };
    const store = chunkStoreFor(c.env);
    for (const chunk of manifest.chunks) {
      const location = await callSession("chunkLocation", () => stub.chunkLocation(actor, chunk.index));
      yield {
        name: chunkPath(chunk.index),
        kind: "stream",
        size: location.size,
        pieces: async function* () {
          const object = await store.get(location.storeKey);
          if (!object) throw new Error(`chunk ${chunk.index} is no longer in the chunk store`);
          const reader = object.body.getReader();
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) return;
              yield value;
            }
          } finally {
            reader.releaseLock();
          }
        },
      };
    }
  };
  return new Response(streamOf(tarPieces(entries(), Math.floor(Date.now() / 1000))), {
    status: 200,
    headers: { "Content-Type": "application/x-tar", "Content-Disposition": `attachment; filename="session-${id}.lucid.tar"` },
  });
});

/**
 * Pulls piece by piece, reading up to 1 MiB ahead of the client so the store's reads overlap the
 * network writes: the archive is never held whole, a failed read breaks the transfer.
 */
function streamOf(pieces: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await pieces.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        await pieces.return(undefined);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }),
  );
}

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
