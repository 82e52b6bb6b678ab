// Two Lucid deployments, each a real workerd process with its own producer key, sharing one chain
// over loopback. Each reaches the other through a TCP relay the test can cut, so a partition is
// a real one (connections refused), and healing it is the network coming back.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSecrets } from "../../edge-adapter/secrets.ts";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../edge-adapter/workerd-process.ts";
import { hexToBytes, producerPublicKey } from "../../shared/chain/block.ts";
import { toHex } from "../../shared/merkle/index.ts";
import { until } from "../node/helpers/until.ts";
import { HttpsClient, superAdminLogin, TronWallet } from "./helpers/lucid-client.ts";
import { buildOnLoopback } from "./helpers/self-hosted.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-e2e-chain-"));

/** A loopback TCP relay to `targetPort`; while cut, every connection (new or open) is dropped. */
class Relay {
  readonly #sockets = new Set<Socket>();
  #open = false;
  constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<Relay> {
    const port = await freePort();
    let relay!: Relay;
    const server = createServer((client) => {
      if (!relay.#open) return client.destroy();
      const upstream = connect(targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        relay.#sockets.add(s);
        s.on("close", () => relay.#sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    relay = new Relay(server, port);
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return relay;
  }

  set open(value: boolean) {
    this.#open = value;
    if (!value) for (const s of this.#sockets) s.destroy();
  }

  close(): Promise<void> {
    this.open = false;
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Instance {
  name: string;
  base: string;
  env: ReturnType<typeof randomSecrets>;
  producer: string;
  relayToPeer: Relay;
  workerd?: WorkerdProcess;
  adminToken?: string;
}

const instances: Instance[] = [];

async function get(instance: Instance, path: string) {
  const res = await fetch(`${instance.base}/api/v1/chain${path}`);
  return { status: res.status, body: (await res.json()) as any };
}

async function submitAnchor(instance: Instance, sessionId: string) {
  // Submitting chain transactions is a privileged write: a real SUPER_ADMIN login session with TOTP.
  const token = instance.adminToken!;
  const root = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const res = await fetch(`${instance.base}/api/v1/chain/transactions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      transactions: [{ type: "anchor", sessionId, root, chunkCount: 2, owner: "owner-1", node: `node-${instance.name}`, interim: false }],
    }),
  });
  expect(res.status, await res.text()).toBe(202);
}

/** The shared until()'s options here: a minute, and both workerds' output on failure. */
const bothOutputs = {
  timeoutMs: 60_000,
  intervalMs: 250,
  detail: () => instances.map((i) => `--- ${i.name}\n${i.workerd?.output().slice(-4000)}`).join("\n"),
};

beforeAll(async () => {
  const ports = [await freePort(), await freePort()];
  const secrets = [randomSecrets(), randomSecrets()];
  const producers = secrets.map((s) => producerPublicKey(hexToBytes(s.CHAIN_PRODUCER_KEY)));
  const admin = await TronWallet.create(); // each instance's bootstrap SUPER_ADMIN
  // Each relay leads to the *other* instance.
  const relays = [await Relay.start(ports[1]!), await Relay.start(ports[0]!)];
  const genesis = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
  for (const [i, name] of ["a", "b"].entries()) {
    const { configPath } = buildOnLoopback(join(work, name), ports[i]!, {
      vars: {
        BLOCK_INTERVAL_SECONDS: "2",
        CHAIN_GENESIS_TIME: genesis,
        CHAIN_EPOCH_SLOTS: "4",
        CHAIN_EMPTY_BLOCKS: "true",
        CHAIN_PRODUCERS: producers.join(","),
        CHAIN_PEERS: `http://127.0.0.1:${relays[i]!.port}`,
        CHAIN_MAX_CLOCK_SKEW_MS: "1000",
        // Tiny sync pages and rounds and no time budget, so healing goes through the paged, round by
        // round import (a branch shorter than ours accumulates across rounds until it is heavier;
        // what is left after an adopted round waits for the next alarm, armed at once).
        CHAIN_SYNC_PAGE_BLOCKS: "2",
        CHAIN_SYNC_ROUND_BLOCKS: "2",
        CHAIN_SYNC_BUDGET_MS: "0",
        BOOTSTRAP_SUPER_ADMIN_ADDRESS: admin.address,
      },
      outboundAllow: ["local"],
    });
    const instance: Instance = {
      name,
      base: `http://127.0.0.1:${ports[i]}`,
      env: secrets[i]!,
      producer: producers[i]!,
      relayToPeer: relays[i]!,
    };
    instance.workerd = startWorkerd(configPath, { env: instance.env });
    instances.push(instance);
  }
  for (const instance of instances) {
    await waitForWorkerd(instance.workerd, `${instance.base}/health`, 30_000);
    const client = new HttpsClient(instance.base);
    instance.adminToken = (await superAdminLogin(client, admin)).full.accessToken;
    await client.close();
  }
});

afterAll(async () => {
  for (const instance of instances) {
    await instance.workerd?.stop();
    await instance.relayToPeer.close();
  }
  rmSync(work, { recursive: true, force: true });
});

describe("two chain instances on loopback", () => {
  it("fork while partitioned, converge on the heaviest chain when the partition heals, and keep every anchor exactly once", async () => {
    const [a, b] = instances as [Instance, Instance];
    // Partitioned: each produces only in its own slots, on its own branch.
    await submitAnchor(a, "session-from-a");
    await submitAnchor(b, "session-from-b");
    for (const instance of instances) {
      await until(
        `${instance.name} to build a branch with its anchor`,
        async () => {
          const stats = (await get(instance, "/stats")).body;
          const anchor = await get(instance, `/anchors/session-from-${instance.name}`);
          return stats.height >= 3 && anchor.status === 200;
        },
        bothOutputs,
      );
    }
    const [first, second] = [(await get(a, "/blocks/1")).body, (await get(b, "/blocks/1")).body];
    expect(first.header.producer).toBe(a.producer);
    expect(second.header.producer).toBe(b.producer);
    expect((await get(a, "/anchors/session-from-b")).status).toBe(404);
    expect((await get(b, "/anchors/session-from-a")).status).toBe(404);

    // Heal the partition: both must end on one chain holding both anchors.
    a.relayToPeer.open = true;
    b.relayToPeer.open = true;
    const converged = await until(
      "both instances to agree on a chain with both anchors",
      async () => {
        const views = await Promise.all(
          instances.map(async (instance) => ({
            fromA: await get(instance, "/anchors/session-from-a"),
            fromB: await get(instance, "/anchors/session-from-b"),
          })),
        );
        if (!views.every((v) => v.fromA.status === 200 && v.fromB.status === 200)) return undefined;
        const [va, vb] = views as [(typeof views)[0], (typeof views)[0]];
        const same = va.fromA.body.block.hash === vb.fromA.body.block.hash && va.fromB.body.block.hash === vb.fromB.body.block.hash;
        return same ? va : undefined;
      },
      bothOutputs,
    );
    // Blocks from both producers sit on the one chain, linked from genesis.
    const height = Math.max(converged.fromA.body.block.header.height, converged.fromB.body.block.header.height);
    const headers = (await get(a, `/blocks?from=0&limit=${height + 1}`)).body.blocks as any[];
    const other = (await get(b, `/blocks?from=0&limit=${height + 1}`)).body.blocks as any[];
    expect(headers.map((h) => h.hash)).toEqual(other.map((h) => h.hash));
    for (let i = 1; i < headers.length; i++) expect(headers[i].header.previousHash).toBe(headers[i - 1].hash);
    const producers = new Set(headers.slice(1).map((h) => h.header.producer));
    expect([...producers].every((p) => p === a.producer || p === b.producer)).toBe(true);
    // The losing branch's anchor went back to its mempool and into a block of the winning chain: once.
    for (const instance of instances) {
      const stats = (await get(instance, "/stats")).body;
      expect(stats.anchors).toBe(2);
    }
  }, 180_000);
});
