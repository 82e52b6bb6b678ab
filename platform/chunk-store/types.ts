/**
 * Where encrypted chunks live. Two backends share this interface: R2 (wrangler dev, tests,
 * Cloudflare) and a workerd `disk` service (a Pi). Keys are `/`-separated paths of
 * [A-Za-z0-9._-] segments; values are opaque bytes the store never interprets.
 */
export interface ChunkStore {
  /**
   * Stores exactly `length` bytes under `key`, replacing any previous value. A stream must have
   * a known length (a FixedLengthStream's readable, a request body with Content-Length): R2
   * refuses others, and piping one native stream into another is not possible in workerd.
   */
  put(key: string, body: ReadableStream<Uint8Array> | Uint8Array, length: number): Promise<void>;
  /** The value (or the byte range of it), or null when the key does not exist. */
  get(key: string, range?: ByteRange): Promise<StoredObject | null>;
  /** Size of the value, or null when the key does not exist. */
  head(key: string): Promise<{ size: number } | null>;
  /** Deletes the keys; deleting a missing key succeeds. */
  delete(keys: readonly string[]): Promise<void>;
}

/** An inclusive byte range, already clamped to the object's size. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface StoredObject {
  body: ReadableStream<Uint8Array>;
  /** Size of the whole object. */
  size: number;
  /** The range returned, when one was asked for. */
  range?: ByteRange;
}

export class ChunkStoreError extends Error {
  override name = "ChunkStoreError";
}

const KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function assertKey(key: string): void {
  if (!KEY.test(key) || key.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new ChunkStoreError(`invalid chunk store key "${key}"`);
  }
}
