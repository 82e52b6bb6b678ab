import { assertKey, ChunkStoreError, type ByteRange, type ChunkStore, type StoredObject } from "./types.ts";

/** What the disk store needs from a service binding (a Fetcher, or plain fetch bound to a base URL). */
export interface DiskService {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

/**
 * Chunk store on a workerd `disk` service (writable = true): PUT writes a file (creating
 * directories), GET reads it (with Range), HEAD gives its size, DELETE removes it. Used on a Pi,
 * where the edge adapter binds the service as `CHUNK_DISK`; works under plain Node against the same
 * HTTP protocol.
 */
export class DiskChunkStore implements ChunkStore {
  constructor(
    private readonly service: DiskService,
    private readonly origin = "http://chunk-disk",
  ) {}

  #url(key: string): string {
    assertKey(key);
    return `${this.origin}/${key}`;
  }

  async put(key: string, body: ReadableStream<Uint8Array> | Uint8Array, length: number): Promise<void> {
    const url = this.#url(key);
    const response = await this.service.fetch(url, {
      method: "PUT",
      body,
      headers: { "Content-Length": String(length), "Content-Type": "application/octet-stream" },
      // Node's fetch needs this to stream a request body; workerd ignores it.
      duplex: "half",
    } as RequestInit);
    await expectOk(response, "PUT", key);
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | null> {
    const headers: Record<string, string> = range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {};
    const response = await this.service.fetch(this.#url(key), { headers });
    if (response.status === 404) return (await response.body?.cancel(), null);
    if (range && response.status === 206) {
      const total = /\/(\d+)$/.exec(response.headers.get("Content-Range") ?? "")?.[1];
      if (!total || !response.body) throw new ChunkStoreError(`disk GET ${key}: 206 without Content-Range`);
      return { body: response.body, size: Number(total), range };
    }
    await expectOk(response, "GET", key, false);
    if (!response.body) throw new ChunkStoreError(`disk GET ${key}: no body`);
    const size = Number(response.headers.get("Content-Length"));
    if (range) {
      // The service ignored Range (a zero-length file, for instance): cut the range out ourselves.
      return { body: slice(response.body, range), size, range };
    }
    return { body: response.body, size };
  }

  async head(key: string): Promise<{ size: number } | null> {
    const response = await this.service.fetch(this.#url(key), { method: "HEAD" });
    if (response.status === 404) return null;
    await expectOk(response, "HEAD", key);
    return { size: Number(response.headers.get("Content-Length")) };
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const response = await this.service.fetch(this.#url(key), { method: "DELETE" });
      if (response.status === 404) {
        await response.body?.cancel();
        continue;
      }
      await expectOk(response, "DELETE", key);
    }
  }
}

async function expectOk(response: Response, method: string, key: string, drain = true): Promise<void> {
  if (response.ok) {
    if (drain) await response.body?.cancel();
    return;
  }
  await response.body?.cancel();
  throw new ChunkStoreError(`disk ${method} ${key}: HTTP ${response.status}`);
}

function slice(body: ReadableStream<Uint8Array>, range: ByteRange): ReadableStream<Uint8Array> {
  let position = 0;
  const end = range.offset + range.length;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const from = Math.max(range.offset - position, 0);
        const to = Math.min(end - position, chunk.length);
        if (to > from) controller.enqueue(chunk.subarray(from, to));
        position += chunk.length;
      },
    }),
  );
}
