import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskChunkStore } from "../../platform/chunk-store/disk.ts";
import { ChunkStoreError } from "../../platform/chunk-store/types.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";

// A real workerd process serving a writable `disk` service on 127.0.0.1, as the edge adapter
// configures it on a Pi; the store talks to it over HTTP exactly as it would through a binding.
let dir: string;
let workerd: WorkerdProcess | undefined;
let store: DiskChunkStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lucid-disk-"));
  const data = join(dir, "data");
  await mkdir(data);
  const port = await freePort();
  const config = join(dir, "config.capnp");
  await writeFile(
    config,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "disk", disk = (path = ${JSON.stringify(data)}, writable = true)) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", service = "disk") ],
);
`,
  );
  workerd = startWorkerd(config);
  const origin = `http://127.0.0.1:${port}`;
  await waitForWorkerd(workerd, origin, 20_000, true);
  store = new DiskChunkStore({ fetch: (url, init) => fetch(url, init) }, origin);
});

afterAll(async () => {
  await workerd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const streamOf = (bytes: Uint8Array) => new Blob([bytes]).stream() as ReadableStream<Uint8Array>;
const text = async (body: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(body).arrayBuffer());

describe("DiskChunkStore against a real workerd disk service", () => {
  it("puts, heads, gets and deletes a nested key", async () => {
    const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) % 256);
    await store.put("sessions/s1/chunks/0000000000/u1", streamOf(bytes), bytes.length);
    expect(await store.head("sessions/s1/chunks/0000000000/u1")).toEqual({ size: bytes.length });
    const object = await store.get("sessions/s1/chunks/0000000000/u1");
    expect(object?.size).toBe(bytes.length);
    expect(await text(object!.body)).toEqual(bytes);
    await store.delete(["sessions/s1/chunks/0000000000/u1"]);
    expect(await store.head("sessions/s1/chunks/0000000000/u1")).toBeNull();
    expect(await store.get("sessions/s1/chunks/0000000000/u1")).toBeNull();
  });

  it("serves byte ranges with the whole size", async () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    await store.put("r/obj", streamOf(bytes), bytes.length);
    const object = await store.get("r/obj", { offset: 100, length: 50 });
    expect(object?.size).toBe(1000);
    expect(object?.range).toEqual({ offset: 100, length: 50 });
    expect(await text(object!.body)).toEqual(bytes.subarray(100, 150));
  });

  it("replaces a value and treats deleting a missing key as success", async () => {
    await store.put("x/y", streamOf(new Uint8Array([1, 2, 3])), 3);
    await store.put("x/y", streamOf(new Uint8Array([4])), 1);
    expect(await text((await store.get("x/y"))!.body)).toEqual(new Uint8Array([4]));
    await store.delete(["x/y", "x/never-written"]);
    expect(await store.head("x/y")).toBeNull();
  });

  it("reports a blob truncated on disk by its real size, whole or by range (the download refuses it)", async () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    await store.put("t/chunk", streamOf(bytes), bytes.length);
    await truncate(join(dir, "data", "t", "chunk"), 600);
    const whole = await store.get("t/chunk");
    expect(whole?.size).toBe(600);
    expect(await text(whole!.body)).toEqual(bytes.subarray(0, 600));
    const part = await store.get("t/chunk", { offset: 10, length: 10 });
    expect(part?.size).toBe(600);
    await part!.body.cancel();
  });

  it("refuses keys that could escape the directory", async () => {
    await expect(store.head("../etc/passwd")).rejects.toBeInstanceOf(ChunkStoreError);
    await expect(store.put("a//b", streamOf(new Uint8Array(1)), 1)).rejects.toBeInstanceOf(ChunkStoreError);
    expect(await readdir(join(dir, "data"))).not.toContain("etc");
  });
});
