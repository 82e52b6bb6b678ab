import { assertKey, ChunkStoreError, type ByteRange, type ChunkStore, type StoredObject } from "./types.ts";

/** Chunk store on an R2 bucket (binding CHUNKS). */
export class R2ChunkStore implements ChunkStore {
  constructor(private readonly bucket: R2Bucket) {}

  async put(key: string, body: ReadableStream<Uint8Array> | Uint8Array, length: number): Promise<void> {
    assertKey(key);
    const object = await this.bucket.put(key, body);
    if (object && object.size !== length) {
      await this.bucket.delete(key);
      throw new ChunkStoreError(`R2 PUT ${key}: stored ${object.size} bytes, expected ${length}`);
    }
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | null> {
    assertKey(key);
    const object = await this.bucket.get(key, range ? { range: { offset: range.offset, length: range.length } } : {});
    if (!object) return null;
    return { body: object.body, size: object.size, ...(range ? { range } : {}) };
  }

  async head(key: string): Promise<{ size: number } | null> {
    assertKey(key);
    const object = await this.bucket.head(key);
    return object ? { size: object.size } : null;
  }

  async delete(keys: readonly string[]): Promise<void> {
    keys.forEach(assertKey);
    // R2 deletes at most 1000 keys per call.
    for (let i = 0; i < keys.length; i += 1000) await this.bucket.delete(keys.slice(i, i + 1000));
  }
}
