import { DiskChunkStore } from "./disk.ts";
import { R2ChunkStore } from "./r2.ts";
import { ChunkStoreError, type ChunkStore } from "./types.ts";

export { DiskChunkStore, type DiskService } from "./disk.ts";
export { R2ChunkStore } from "./r2.ts";
export { ChunkStoreError, type ByteRange, type ChunkStore, type StoredObject } from "./types.ts";

/** The deployment's chunk store: a `CHUNK_DISK` service binding when the edge adapter provides one, else R2. */
export function chunkStoreFor(env: { CHUNKS?: R2Bucket; CHUNK_DISK?: Fetcher }): ChunkStore {
  if (env.CHUNK_DISK) return new DiskChunkStore(env.CHUNK_DISK);
  if (env.CHUNKS) return new R2ChunkStore(env.CHUNKS);
  throw new ChunkStoreError("no chunk store is bound (CHUNKS for R2 or CHUNK_DISK for a workerd disk service)");
}
