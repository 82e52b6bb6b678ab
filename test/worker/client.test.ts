import { exports } from "cloudflare:workers";
import { describe, expect, expectTypeOf, it } from "vitest";
import { createLucidClient } from "../../functions/client.ts";
import type { SessionState } from "../../shared/session.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { tokenFor } from "./helpers.ts";
import { nodeIdOf } from "./session-helpers.ts";

// The Electron GUI's client: request and response types come from the route definitions.
// `npm run typecheck` checks this file, so a surface whose routes stop reaching AppType fails there.
const client = createLucidClient("https://lucid.test", {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => {
    // The test plays workerd's listener: the peer address is request.cf.clientIp.
    return exports.default.fetch(new Request(input, { ...init, cf: { clientIp: "192.0.2.10:40000" } }));
  },
});

const bearer = async (userId: string, role: "USER" | "ADMIN" = "USER") => ({
  headers: { Authorization: `Bearer ${await tokenFor(userId, role)}` },
});

describe("typed client (hc<AppType>)", () => {
  it("calls routes with typed inputs and outputs", async () => {
    // Operations endpoints need ADMIN.
    const admin = await bearer("client-ops", "ADMIN");
    expect((await client.api.v1.system.services.check.$post({ json: { services: ["gateway"] } })).status).toBe(401);
    const res = await client.api.v1.system.services.check.$post({ json: { services: ["gateway"] } }, admin);
    expect(res.status).toBe(200);
    if (res.status !== 200) return;
    const report = await res.json();
    const names: string[] = report.functions.map((f) => f.name);
    expect(names).toEqual(["gateway"]);

    const one = await client.api.v1.system.services[":name"].$get({ param: { name: "gateway" } }, admin);
    expect(one.status).toBe(200);
    if (one.status === 200) expect((await one.json()).status).toBe("up");
  });

  it("reaches the sessions routes: create, read, stop with typed bodies", async () => {
    const alice = await bearer("client-alice");
    const nodeId = await nodeIdOf("node-client");
    const created = await client.api.v1.sessions.$post({ json: { nodeId, title: "typed" } }, alice);
    expect(created.status).toBe(201);
    if (created.status !== 201) return;
    const session = await created.json();
    expectTypeOf(session.state).toEqualTypeOf<SessionState>();
    expect(session).toMatchObject({ ownerId: "client-alice", nodeId, state: "created", tags: [] });

    const read = await client.api.v1.sessions[":id"].$get({ param: { id: session.id } }, alice);
    expect(read.status).toBe(200);
    if (read.status === 200) expect((await read.json()).title).toBe("typed");

    const invalid = await client.api.v1.sessions.$post(
      // @ts-expect-error `title` is required by CreateSessionBody; the server says so too.
      { json: { nodeId } },
      alice,
    );
    expect(invalid.status).toBe(400);

    // @ts-expect-error no such route: the client only knows routes the Worker registers.
    expect(client.api.v1.sessions.nonexistent).toBeDefined(); // hc builds any path at run time
  });

  it("reaches the payments routes: typed JSON body and Idempotency-Key header", async () => {
    // Wallet writes are privileged: a real ADMIN login session that passed TOTP, not a bare token.
    const admin = { headers: { Authorization: `Bearer ${(await steppedUpAdmin("ADMIN")).token}` } };
    const created = await client.api.v1.payments.wallets.$post(
      { json: { kind: "hot", label: "typed treasury" }, header: { "idempotency-key": crypto.randomUUID() } },
      admin,
    );
    expect(created.status).toBe(201);
    if (created.status !== 201) return;
    const wallet = await created.json();
    expectTypeOf(wallet.watchOnly).toEqualTypeOf<boolean>();
    expect(wallet).toMatchObject({ kind: "hot", label: "typed treasury", watchOnly: false });

    const listed = await client.api.v1.payments.wallets.$get({}, admin);
    expect(listed.status).toBe(200);
    if (listed.status === 200) expect((await listed.json()).wallets.map((w) => w.address)).toContain(wallet.address);

    const bad = await client.api.v1.payments.wallets.$post(
      // @ts-expect-error "lukewarm" is not a wallet kind.
      { json: { kind: "lukewarm", label: "x" }, header: { "idempotency-key": crypto.randomUUID() } },
      admin,
    );
    expect(bad.status).toBe(400);
  });

  it("reaches the chain routes: typed stats", async () => {
    const stats = await client.api.v1.chain.stats.$get({}, await bearer("client-reader"));
    expect(stats.status).toBe(200);
    if (stats.status !== 200) return;
    const body = await stats.json();
    expectTypeOf(body.height).toEqualTypeOf<number>();
    expect(body.height).toBeGreaterThanOrEqual(0);
    expect(body.headHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("types every surface's routes (checked by tsc; a missing surface fails the typecheck)", () => {
    expectTypeOf(client.api.v1.auth.challenge.$post).toBeFunction();
    expectTypeOf(client.api.v1.users.me.$get).toBeFunction();
    expectTypeOf(client.api.v1.nodes.leaderboard.$get).toBeFunction();
    expectTypeOf(client.api.v1.rdp.desktops.$post).toBeFunction();
    expectTypeOf(client.api.v1.admin.emergency.$get).toBeFunction();
    expectTypeOf(client.api.v1.notifications.$get).toBeFunction();
  });
});
