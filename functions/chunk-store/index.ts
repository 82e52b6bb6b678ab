import { DiskChunkStore } from "./disk.ts";
import { R2ChunkStore } from "./r2.ts";
import type { ChunkStore } from "./types.ts";

export { DiskChunkStore, type DiskService } from "./disk.ts";
export { R2ChunkStore } from "./r2.ts";
export { ChunkStoreError, type ByteRange, type ChunkStore, type StoredObject } from "./types.ts";

/** The deployment's chunk store: a `DISK` service binding when the edge adapter provides one, else R2. */
export function chunkStoreFor(env: { CHUNKS: R2Bucket; DISK?: Fetcher }): ChunkStore {
  return env.DISK ? new DiskChunkStore(env.DISK) : new R2ChunkStore(env.CHUNKS);
}
