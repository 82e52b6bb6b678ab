import { toHex } from "../../shared/merkle/index.ts";

/**
 * Reading stored chunks without ever presenting damaged bytes as genuine: every read is hashed
 * with the runtime's native SHA-256 (crypto.DigestStream, workerd) against the digest the server
 * recorded when it received the chunk. Worker-only (not exported from ./index.ts, which the Node
 * adapter tests import).
 */

/** What the stored bytes turned out to be when they differ from what was received. */
export interface ReadDamage {
  reason: "length" | "digest";
  expected: number | string;
  found: number | string;
}

/** SHA-256 (hex) and length of a whole stream, one piece in memory at a time. */
export async function hashStored(body: ReadableStream<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  let size = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      await writer.write(value);
    }
    await writer.close();
  } catch (error) {
    await writer.abort(error).catch(() => {});
    throw error;
  }
  return { sha256: toHex(new Uint8Array(await digest.digest)), size };
}

/** Reads a whole (small) stored chunk into memory and checks it before a byte is sent. */
export async function readVerified(
  body: ReadableStream<Uint8Array>,
  expected: { sha256: string; size: number },
): Promise<{ ok: true; bytes: Uint8Array<ArrayBuffer> } | { ok: false; damage: ReadDamage }> {
  const bytes = new Uint8Array(await new Response(body).arrayBuffer());
  if (bytes.byteLength !== expected.size)
    return { ok: false, damage: { reason: "length", expected: expected.size, found: bytes.byteLength } };
  const sha256 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  if (sha256 !== expected.sha256) return { ok: false, damage: { reason: "digest", expected: expected.sha256, found: sha256 } };
  return { ok: true, bytes };
}

/**
 * Passes a whole stored chunk through while hashing it, holding back the last piece until the
 * digest and the length are checked: on a mismatch the stream errors before its end, so a client
 * sees a broken transfer (fewer bytes than Content-Length), never a complete body of wrong bytes.
 * `onDamage` is called once, after the stream has been errored.
 */
export function verifyingStream(
  body: ReadableStream<Uint8Array>,
  expected: { sha256: string; size: number },
  onDamage: (damage: ReadDamage) => Promise<void>,
): ReadableStream<Uint8Array> {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  let held: Uint8Array | null = null;
  let seen = 0;
  const fail = async (controller: TransformStreamDefaultController<Uint8Array>, damage: ReadDamage) => {
    controller.error(new Error(`stored chunk is damaged (${damage.reason})`));
    await writer.abort().catch(() => {});
    await onDamage(damage).catch(() => {});
  };
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(piece, controller) {
        seen += piece.byteLength;
        if (seen > expected.size) return void (await fail(controller, { reason: "length", expected: expected.size, found: seen }));
        await writer.write(piece);
        if (held) controller.enqueue(held);
        held = piece;
      },
      async flush(controller) {
        if (seen !== expected.size) return void (await fail(controller, { reason: "length", expected: expected.size, found: seen }));
        await writer.close();
        const sha256 = toHex(new Uint8Array(await digest.digest));
        if (sha256 !== expected.sha256)
          return void (await fail(controller, { reason: "digest", expected: expected.sha256, found: sha256 }));
        if (held) controller.enqueue(held);
      },
    }),
  );
}
