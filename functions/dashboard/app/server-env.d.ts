/**
 * The dashboard's typecheck loads the Worker's source (for AppType, see lib/api.ts) beside the
 * DOM lib. Where the DOM lib and @cloudflare/workers-types both declare a global, the DOM one
 * wins, so the Workers-only members and the looser WebCrypto byte types the server code relies
 * on are restated here (as @cloudflare/workers-types declares them). Types only; nothing in the
 * browser bundle uses them.
 */
type WorkersBytes = ArrayBuffer | ArrayBufferView;
type WorkersAlgorithm = string | { name: string; [parameter: string]: unknown };

interface SubtleCrypto {
  encrypt(algorithm: WorkersAlgorithm, key: CryptoKey, data: WorkersBytes): Promise<ArrayBuffer>;
  decrypt(algorithm: WorkersAlgorithm, key: CryptoKey, data: WorkersBytes): Promise<ArrayBuffer>;
  verify(algorithm: WorkersAlgorithm, key: CryptoKey, signature: WorkersBytes, data: WorkersBytes): Promise<boolean>;
  deriveBits(algorithm: WorkersAlgorithm, baseKey: CryptoKey, length?: number | null): Promise<ArrayBuffer>;
  timingSafeEqual(a: WorkersBytes, b: WorkersBytes): boolean;
}

interface Crypto {
  DigestStream: typeof DigestStream;
}

interface ReadableStreamBYOBReader {
  readAtLeast<T extends ArrayBufferView>(minElements: number, view: T): Promise<ReadableStreamReadResult<T>>;
}
