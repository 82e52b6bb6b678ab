import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { logEvent } from "../../shared/log.ts";
import { audit } from "../audit.ts";
import { metrics } from "../../platform/metrics.ts";
import { clientAddress } from "../middleware/rate-limit.ts";
import type { AppEnv } from "../types.ts";

export interface DamagedChunk {
  sessionId: string;
  index: number;
  /** What the store gave against what was received: "size" (a truncated or padded blob) or "length" (a short read). */
  reason: "size" | "length";
  expected: number;
  found: number;
}

/** Records a damaged stored chunk: a log line, a metric and an audit event `chunks.integrity_failure`. */
export async function reportDamagedChunk(c: Context<AppEnv>, damage: DamagedChunk): Promise<void> {
  metrics.inc("lucid_chunk_integrity_failures_total", { reason: damage.reason });
  logEvent("error", "chunks.integrity_failure", { requestId: c.get("requestId"), ...damage });
  await audit(c.env, {
    action: "chunks.integrity_failure",
    outcome: "failure",
    targetId: damage.sessionId,
    ip: clientAddress(c),
    requestId: c.get("requestId"),
    details: { index: damage.index, reason: damage.reason, expected: damage.expected, found: damage.found },
  });
}

export function chunkCorrupt(index: number): ApiError {
  return new ApiError("chunk-corrupt", `Chunk ${index} is damaged in the chunk store; the event was recorded.`, { index });
}

/**
 * Passes exactly `expected` bytes through, or errors the stream (the client sees a broken
 * transfer, never a short 200) and reports the damage once the store's body ends early or runs long.
 */
export function exactLength(
  body: ReadableStream<Uint8Array>,
  expected: number,
  onDamage: (found: number) => Promise<void>,
): ReadableStream<Uint8Array> {
  let seen = 0;
  const fail = (controller: TransformStreamDefaultController<Uint8Array>, found: number) => {
    controller.error(new Error(`stored chunk has ${found} bytes, expected ${expected}`));
    return onDamage(found).catch((error: unknown) => logEvent("error", "chunks.integrity_report_failed", { error: String(error) }));
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
