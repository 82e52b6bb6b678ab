// A real recording for the dashboard test: frames with known pixels, encoded by the shared
// encoder (one stream per chunk, as the agent writes them), sealed by the agent's own sealChunk
// (zstd + XChaCha20-Poly1305) and uploaded through the real ingest API with a node credential.
import { sign } from "hono/jwt";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enrol } from "../../../pi-agent/lib/node/enroll.ts";
import { sealChunk } from "../../../pi-agent/lib/seal.ts";
import { formatContentDigest } from "../../../shared/chunk.ts";
import { RecordingEncoder, type Frame } from "../../../shared/recording/index.ts";

export interface RecordedFrame {
  epochMs: number;
  frame: Frame;
}

/** A frame of width×height: a gradient background and a solid block that moves with `n`. */
export function syntheticFrame(width: number, height: number, n: number): Frame {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 3 + n * 17) & 0xff; // B
      pixels[i + 1] = (y * 2) & 0xff; // G
      pixels[i + 2] = (x ^ y) & 0xff; // R
    }
  }
  const bx = (n * 23) % (width - 40);
  for (let y = 30; y < 70; y++) {
    for (let x = bx; x < bx + 40; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = 0x20;
      pixels[i + 1] = 0x80 + n;
      pixels[i + 2] = 0xe0;
    }
  }
  return { width, height, pixels };
}

/** Chunks of frames (each chunk its own stream starting with a keyframe), `stepMs` apart. */
export function makeRecording(options: {
  width: number;
  height: number;
  chunks: number;
  framesPerChunk: number;
  startMs: number;
  stepMs: number;
}) {
  const chunks: { plain: Uint8Array; frames: RecordedFrame[] }[] = [];
  let n = 0;
  for (let c = 0; c < options.chunks; c++) {
    const first = options.startMs + n * options.stepMs;
    const encoder = new RecordingEncoder({ startEpochMs: first, tileSize: 32 });
    const frames: RecordedFrame[] = [];
    for (let f = 0; f < options.framesPerChunk; f++, n++) {
      const epochMs = options.startMs + n * options.stepMs;
      const frame = syntheticFrame(options.width, options.height, n);
      encoder.add(frame, epochMs);
      frames.push({ epochMs, frame });
    }
    chunks.push({ plain: encoder.bytes(), frames });
  }
  return chunks;
}

/**
 * Registers a node with the agent's own enrolment (a fresh Ed25519 key, the registration signed by
 * it) under a NODE_OPERATOR access token minted with the server's secret; returns its id and the
 * credential functions/nodes issued.
 */
export async function registerNode(base: string, jwtSecret: string): Promise<{ nodeId: string; credential: string }> {
  const now = Math.floor(Date.now() / 1000);
  const operatorId = `operator-${crypto.randomUUID()}`;
  const operatorToken = await sign({ sub: operatorId, role: "NODE_OPERATOR", iat: now, exp: now + 3600 }, jwtSecret, "HS256");
  const stateDir = mkdtempSync(join(tmpdir(), "lucid-e2e-node-"));
  try {
    const node = await enrol({
      server: base,
      operatorToken,
      operatorId,
      payoutAddress: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
      resources: { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 },
      stateDir,
    });
    return { nodeId: node.nodeId, credential: node.credential.token };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** Seals and uploads chunk `index` as the agent's uploader does (shared/chunk.ts headers). */
export async function uploadChunk(
  base: string,
  credential: string,
  sessionId: string,
  index: number,
  key: Uint8Array,
  chunk: { plain: Uint8Array; frames: RecordedFrame[] },
) {
  const sealed = sealChunk({ plain: chunk.plain, sessionId, index, key, zstdLevel: 3 });
  const res = await fetch(`${base}/api/v1/sessions/${sessionId}/chunks/${index}`, {
    method: "PUT",
    headers: {
      Authorization: `Bearer ${credential}`,
      "Content-Type": "application/octet-stream",
      "Content-Digest": formatContentDigest(sealed.sha256),
      "Lucid-Chunk-Nonce": Buffer.from(sealed.nonce).toString("hex"),
      "Lucid-Plain-Size": String(sealed.plainSize),
      "Lucid-Compressed-Size": String(sealed.compressedSize),
      "Lucid-Capture-Start": String(chunk.frames[0]!.epochMs),
      "Lucid-Capture-End": String(chunk.frames[chunk.frames.length - 1]!.epochMs),
    },
    body: sealed.ciphertext,
  });
  if (res.status !== 201) throw new Error(`chunk ${index} upload answered ${res.status}: ${await res.text()}`);
}
