import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { chunkStoreFor, type ByteRange } from "../../platform/chunk-store/index.ts";
import { readVerified, verifyingStream, type ReadDamage } from "../../platform/chunk-store/verify.ts";
import type { AppEnv } from "../types.ts";
import { chunkCorrupt, type DamagedChunk } from "./integrity.ts";

/**
 * How much of a chunk download was checked against the SHA-256 recorded at upload:
 * - `verified`: the whole chunk was read and hashed before the first byte was sent;
 * - `verified-streaming`: hashed while streaming; on a mismatch the transfer breaks before its
 *   last bytes, so a complete body is always a verified one;
 * - `unverified-range`: a byte range of a chunk too large to read whole first; only its length is
 *   checked. Check the whole chunk (or its Merkle proof) before relying on the range.
 */
export const INTEGRITY_HEADER = "Lucid-Integrity";
export type ReadIntegrity = "verified" | "verified-streaming" | "unverified-range";

/** Chunks up to this size are read whole and checked before a byte is sent (a mismatch is a 500 chunk-corrupt). */
export const VERIFY_BEFORE_SENDING_BYTES = 1024 * 1024;

type Report = (damage: Omit<DamagedChunk, "sessionId" | "index">) => Promise<void>;

/** The chunk (or the range of it) as a body that never presents damaged bytes as genuine. */
export async function verifiedChunk(
  c: Context<AppEnv>,
  index: number,
  location: { storeKey: string; size: number; sha256: string },
  range: ByteRange | null,
  report: Report,
): Promise<{ stream: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer>; integrity: ReadIntegrity }> {
  const small = location.size <= VERIFY_BEFORE_SENDING_BYTES;
  const object = await chunkStoreFor(c.env).get(location.storeKey, range && !small ? range : undefined);
  if (!object) throw new ApiError("gone", `Chunk ${index} is no longer in the chunk store.`);
  const refuse = async (damage: Omit<DamagedChunk, "sessionId" | "index">) => {
    // The report logs its own failure; the client gets chunk-corrupt either way.
    await report(damage).catch(() => {});
    return chunkCorrupt(index);
  };
  // A blob whose stored size differs from the received one (truncated on disk, say) is never served.
  if (object.size !== location.size) {
    await object.body.cancel();
    throw await refuse({ reason: "size", expected: location.size, found: object.size });
  }
  if (small) {
    const checked = await readVerified(object.body, location);
    if (!checked.ok) throw await refuse(checked.damage);
    const bytes = range ? checked.bytes.subarray(range.offset, range.offset + range.length) : checked.bytes;
    return { stream: bytes, integrity: "verified" };
  }
  const onDamage = (damage: ReadDamage) => report(damage);
  if (!range) return { stream: verifyingStream(object.body, location, onDamage), integrity: "verified-streaming" };
  return {
    stream: exactLength(object.body, range.length, (found) => onDamage({ reason: "length", expected: range.length, found })),
    integrity: "unverified-range",
  };
}

/**
 * Passes exactly `expected` bytes through, or errors the stream (the client sees a broken
 * transfer, never a short 206) and reports the damage once the store's body ends early or runs long.
 */
function exactLength(
  body: ReadableStream<Uint8Array>,
  expected: number,
  onDamage: (found: number) => Promise<void>,
): ReadableStream<Uint8Array> {
  let seen = 0;
  const fail = (controller: TransformStreamDefaultController<Uint8Array>, found: number) => {
    controller.error(new Error(`stored range has ${found} bytes, expected ${expected}`));
    return onDamage(found).catch(() => {});
  };
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > expected) return void (await fail(controller, seen));
        controller.enqueue(chunk);
      },
      async flush(controller) {
        if (seen !== expected) await fail(controller, seen);
      },
    }),
  );
}
