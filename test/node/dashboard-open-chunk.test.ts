// The dashboard's chunk opener (pure JS: @noble/ciphers + fzstd, as in the browser) against the
// agent's sealChunk (node:crypto + node:zlib): byte-identical plain streams, and every kind of
// damage named before anything is decoded.
import { describe, expect, it } from "vitest";
import { indexRecords, openChunk, PlaybackError, type ManifestChunk } from "../../functions/dashboard/app/lib/open-chunk.ts";
import { sealChunk } from "../../pi-agent/lib/seal.ts";
import { describeInteraction, interactionsOf } from "../../functions/dashboard/app/lib/interaction.ts";
import { decodeRecording, encodeEventRecord, RecordingEncoder } from "../../shared/recording/index.ts";

const SESSION = "0f8b6f3e-2c1d-4b8a-9e2f-6a7b8c9d0e1f";
const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function stream(frames: number, startEpochMs = 1_764_000_000_000) {
  const encoder = new RecordingEncoder({ startEpochMs, tileSize: 16 });
  for (let n = 0; n < frames; n++) {
    const pixels = new Uint8Array(48 * 32 * 3).map((_, i) => (i * (n + 3)) & 0xff);
    if (n === 2) pixels.fill(9); // a change that solid tiles encode
    encoder.add({ width: 48, height: 32, pixels }, startEpochMs + n * 100);
  }
  return encoder.bytes();
}

function sealed(plain: Uint8Array, index = 0) {
  const s = sealChunk({ plain, sessionId: SESSION, index, key, zstdLevel: 3 });
  const chunk: ManifestChunk = {
    index,
    sha256: hex(s.sha256),
    size: s.ciphertext.length,
    nonce: hex(s.nonce),
    plainSize: s.plainSize,
    compressedSize: s.compressedSize,
    captureStart: 0,
    captureEnd: 0,
  };
  return { chunk, bytes: s.ciphertext };
}

describe("dashboard openChunk", () => {
  it("opens what the agent sealed, byte for byte", async () => {
    const plain = stream(5);
    const { chunk, bytes } = sealed(plain, 3);
    expect(Buffer.compare(Buffer.from(await openChunk(SESSION, chunk, key, bytes)), Buffer.from(plain))).toBe(0);
  });

  it("names an altered chunk by its hash before decrypting", async () => {
    const { chunk, bytes } = sealed(stream(3));
    const altered = bytes.slice();
    altered[10]! ^= 1;
    await expect(openChunk(SESSION, chunk, key, altered)).rejects.toThrow(/does not match the manifest/);
  });

  it("refuses a wrong key, another session's AAD and another index", async () => {
    const { chunk, bytes } = sealed(stream(3));
    const wrongKey = key.slice();
    wrongKey[0]! ^= 1;
    await expect(openChunk(SESSION, chunk, wrongKey, bytes)).rejects.toThrow(PlaybackError);
    await expect(openChunk("another-session", chunk, key, bytes)).rejects.toThrow(/does not decrypt/);
    await expect(openChunk(SESSION, { ...chunk, index: 1 }, key, bytes)).rejects.toThrow(/does not decrypt/);
  });

  it("refuses a malformed nonce", async () => {
    const { chunk, bytes } = sealed(stream(2));
    await expect(openChunk(SESSION, { ...chunk, nonce: "abcd" }, key, bytes)).rejects.toThrow(/malformed nonce/);
  });

  it("indexes keyframes and deltas from the record headers alone", () => {
    const index = indexRecords(stream(4, 1000));
    expect(index.map((r) => r.type)).toEqual(["keyframe", "delta", "delta", "delta"]);
    expect(index.map((r) => r.epochMs)).toEqual([1000, 1100, 1200, 1300]);
  });

  it("leaves event records out of the frame index, so the n-th entry is the decoder's n-th frame", () => {
    const encoder = new RecordingEncoder({ startEpochMs: 1000, tileSize: 16 });
    const pixels = (n: number) => new Uint8Array(48 * 32 * 3).map((_, i) => (i * (n + 3)) & 0xff);
    encoder.add({ width: 48, height: 32, pixels: pixels(0) }, 1000);
    encoder.addEventRecord(encodeEventRecord(0, { kind: "interaction", event: { type: "focus", title: "Budget.xlsx", class: "calc" } }));
    encoder.addEventRecord(encodeEventRecord(50, { kind: "cursor-move", x: 3, y: 4 }));
    encoder.add({ width: 48, height: 32, pixels: pixels(1) }, 1100);
    encoder.addEventRecord(
      encodeEventRecord(150, { kind: "interaction", event: { type: "clipboard", selection: "CLIPBOARD", bytes: 2048 } }),
    );
    const plain = encoder.bytes();
    expect(indexRecords(plain).map((r) => r.epochMs)).toEqual([...decodeRecording(plain)].map((f) => f.epochMs));
    const events = interactionsOf(plain, 7);
    expect(events.map((e) => [e.epochMs, e.chunk, describeInteraction(e.event)])).toEqual([
      [1000, 7, "focus: Budget.xlsx"],
      [1150, 7, "copied 2.0 KiB"],
    ]);
  });
});
