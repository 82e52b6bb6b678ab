import { describe, expect, it } from "vitest";
import { sign } from "hono/jwt";
import { api, problemOf, TEST_JWT_SECRET } from "./helpers.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { asAdmin, TestNode } from "./node-agent.ts";
import { chunkBytes, recordingSession, uploadHeaders } from "./session-helpers.ts";

// The credential functions/nodes issues at registration ({ typ, sub, pool, jti, iat, exp }) is what
// a Pi presents for uploads, in X-Node-Credential or as a Bearer token (the agent's uploader).
describe("uploads with a credential issued by functions/nodes", { timeout: 60_000 }, () => {
  it("is accepted in either header and refused once the node is suspended", async () => {
    const node = new TestNode("operator-s1");
    expect((await node.register()).status).toBe(201);
    const session = await recordingSession("owner-s1", node.id);
    const put = async (index: number, auth: Record<string, string>) =>
      api(`/api/v1/sessions/${session.id}/chunks/${index}`, {
        method: "PUT",
        headers: { ...auth, ...(await uploadHeaders(chunkBytes(index))) },
        body: chunkBytes(index),
      });
    expect((await put(0, { "X-Node-Credential": node.credential })).status).toBe(201);
    expect((await put(1, { Authorization: `Bearer ${node.credential}` })).status).toBe(201);

    const other = new TestNode("operator-s2");
    expect((await other.register()).status).toBe(201);
    expect((await put(2, { "X-Node-Credential": other.credential })).status).toBe(403);

    const admin = await steppedUpAdmin();
    const suspend = await asAdmin(admin.token, `/api/v1/nodes/${node.id}/suspension`, {
      method: "PUT",
      body: JSON.stringify({ suspended: true, reason: "test" }),
    });
    expect(suspend.status).toBe(200);
    const refused = await put(2, { "X-Node-Credential": node.credential });
    expect(refused.status).toBeGreaterThanOrEqual(401);
    expect((await problemOf(refused)).type).toBe("/problems/credential-revoked");
  });

  it("refuses a correctly signed credential that lacks pool and jti: it could never be revoked", async () => {
    const node = new TestNode("operator-s3");
    expect((await node.register()).status).toBe(201);
    const session = await recordingSession("owner-s3", node.id);
    const now = Math.floor(Date.now() / 1000);
    const unrevocable = await sign({ typ: "node", sub: node.id, iat: now, exp: now + 600 }, TEST_JWT_SECRET, "HS256");
    const res = await api(`/api/v1/sessions/${session.id}/chunks/0`, {
      method: "PUT",
      headers: { "X-Node-Credential": unrevocable, ...(await uploadHeaders(chunkBytes(0))) },
      body: chunkBytes(0),
    });
    expect(res.status).toBe(401);
    expect((await problemOf(res)).detail).toMatch(/not a node credential issued by functions\/nodes/);
    const stored = await api(`/api/v1/sessions/${session.id}`, { headers: { "X-Node-Credential": node.credential } });
    expect(((await stored.json()) as { chunks: { count: number } }).chunks.count).toBe(0);
  });
});
