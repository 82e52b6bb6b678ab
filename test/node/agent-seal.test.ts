import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { zstdDecompressSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { chunkAad } from "../../shared/chunk.ts";
import { openChunk, sealChunk, xchachaDecrypt, xchachaEncrypt } from "../../pi-agent/lib/seal.ts";
import { SealPool } from "../../pi-agent/lib/seal-pool.ts";

const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const pool = new SealPool(2);
afterAll(() => pool.close());

describe("chunk sealing", () => {
  it("is byte-identical to @noble/ciphers xchacha20poly1305 (property, sizes across the 1 MiB piece edge)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 300 }),
        (k, nonce, aad, plain) => {
          const ours = xchachaEncrypt(k, nonce, aad, plain);
          expect(ours.ciphertext).toEqual(xchacha20poly1305(k, nonce, aad).encrypt(plain));
          expect(ours.sha256).toEqual(nobleSha256(ours.ciphertext));
          expect(xchachaDecrypt(k, nonce, aad, ours.ciphertext)).toEqual(plain);
        },
      ),
      { numRuns: 100 },
    );
    const big = Uint8Array.from({ length: (1 << 20) * 2 + 17 }, (_, i) => (i * 31) & 0xff);
    const nonce = new Uint8Array(24).fill(9);
    const ours = xchachaEncrypt(key, nonce, Uint8Array.of(1), big);
    const reference = xchacha20poly1305(key, nonce, Uint8Array.of(1)).encrypt(big);
    expect(Buffer.from(ours.ciphertext).equals(reference)).toBe(true); // toEqual walks 2 MB slowly
  });

  it("seals per shared/chunk.ts: noble opens it with AAD = sessionId ‖ index, the digest is of the ciphertext", () => {
    const plain = new TextEncoder().encode("LREC".repeat(5000));
    const sealed = sealChunk({ plain, sessionId: "sess-1", index: 3, key, zstdLevel: 3 });
    expect(sealed.plainSize).toBe(plain.length);
    expect(sealed.compressedSize).toBeLessThan(plain.length / 10);
    const compressed = xchacha20poly1305(key, sealed.nonce, chunkAad("sess-1", 3)).decrypt(sealed.ciphertext);
    expect(compressed.length).toBe(sealed.compressedSize);
    expect(new Uint8Array(zstdDecompressSync(compressed))).toEqual(plain);
    expect(sealed.sha256).toEqual(nobleSha256(sealed.ciphertext));
    expect(openChunk(sealed.ciphertext, sealed.nonce, "sess-1", 3, key)).toEqual(plain);
  });

  it("refuses a chunk moved to another index or session, or tampered with", () => {
    const sealed = sealChunk({ plain: Uint8Array.of(1, 2, 3), sessionId: "s", index: 0, key, zstdLevel: 1 });
    expect(() => openChunk(sealed.ciphertext, sealed.nonce, "s", 1, key)).toThrow();
    expect(() => openChunk(sealed.ciphertext, sealed.nonce, "t", 0, key)).toThrow();
    const tampered = sealed.ciphertext.slice();
    tampered[0]! ^= 1;
    expect(() => openChunk(tampered, sealed.nonce, "s", 0, key)).toThrow();
    expect(() => sealChunk({ plain: Uint8Array.of(1), sessionId: "s", index: 0, key: key.subarray(1), zstdLevel: 1 })).toThrow(/32 bytes/);
  });

  it("seals on worker threads with the same bytes as inline, each answer to its own chunk however many are queued", async () => {
    const nonce = new Uint8Array(24).fill(4);
    // 7 chunks: more than the workers take at once, so some wait in the pool's queue.
    const inputs = [0, 1, 2, 3, 4, 5, 6].map((index) => ({
      plain: Uint8Array.from({ length: 100_000 + index }, (_, i) => (i * index) & 0xff),
      sessionId: "pool",
      index,
      key,
      zstdLevel: 3,
      nonce,
    }));
    const inline = inputs.map((input) => sealChunk({ ...input, plain: input.plain.slice() }));
    const pooled = await Promise.all(inputs.map((input) => pool.seal(input)));
    expect(pooled.map((s) => s.ciphertext)).toEqual(inline.map((s) => s.ciphertext));
    await expect(pool.seal({ ...inputs[0]!, plain: Uint8Array.of(1), key: new Uint8Array(3) })).rejects.toThrow(/key must be 32 bytes/);
    // A failing chunk among queued ones fails alone; the others still get their own results.
    const fresh = inline.map((_, i) => ({ ...inputs[i]!, plain: Uint8Array.from({ length: 100_000 + i }, (_, j) => (j * i) & 0xff) }));
    const mixed = await Promise.allSettled([
      ...fresh.slice(0, 3).map((input) => pool.seal(input)),
      pool.seal({ ...fresh[3]!, key: new Uint8Array(3) }),
      ...fresh.slice(4).map((input) => pool.seal(input)),
    ]);
    expect(mixed.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    mixed.forEach((r, i) => {
      if (r.status === "fulfilled") expect(r.value.ciphertext).toEqual(inline[i]!.ciphertext);
    });
    // One worker with 3 chunks posted ahead answers them in order, each to its own caller.
    const queued = new SealPool(1, 3);
    try {
      const sealed = await Promise.all(
        inline.map((_, i) => queued.seal({ ...inputs[i]!, plain: Uint8Array.from({ length: 100_000 + i }, (_, j) => (j * i) & 0xff) })),
      );
      expect(sealed.map((x) => x.ciphertext)).toEqual(inline.map((x) => x.ciphertext));
    } finally {
      await queued.close();
    }
  });
});
