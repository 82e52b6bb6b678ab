import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64, unwrapKeyShare, type KeyShare } from "../../shared/recording/key-share.ts";
import { steppedUpAdmin } from "./admin-helpers.ts";
import { api, problemOf, tokenFor } from "./helpers.ts";
import { createSession, env, nodeHeaders, userHeaders } from "./session-helpers.ts";

interface ShareJson {
  id: string;
  label: string;
  recipient: string;
  fingerprint: string | null;
  createdBy: string;
  share: KeyShare;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}`, "Content-Type": "application/json" });
const share = (id: string, headers: Record<string, string>, body: unknown) =>
  api(`/api/v1/sessions/${id}/shares`, { method: "POST", headers, body: JSON.stringify(body) });
const ownerKey = async (id: string, owner: string) =>
  fromBase64(((await (await api(`/api/v1/sessions/${id}/key`, { headers: await userHeaders(owner) })).json()) as { key: string }).key);
const auditOf = async (id: string, action: string) =>
  (await env.AUDIT.get(env.AUDIT.idFromName("audit")).list({ limit: 50, action })).filter((e) => e.targetId === id);

describe("no plaintext key for admins; shares instead", { timeout: 120_000 }, () => {
  it("GET …/key: the owner and the assigned node get it; ADMIN and SUPER_ADMIN tokens get 403, another user 404", async () => {
    const s = await createSession("sk1", "skn1");
    expect((await api(`/api/v1/sessions/${s.id}/key`, { headers: await userHeaders("sk1") })).status).toBe(200);
    expect((await api(`/api/v1/sessions/${s.id}/key`, { headers: await nodeHeaders("skn1") })).status).toBe(200);
    for (const role of ["ADMIN", "SUPER_ADMIN"] as const) {
      const res = await api(`/api/v1/sessions/${s.id}/key`, { headers: bearer(await tokenFor(`root-${role}`, role)) });
      expect(res.status, role).toBe(403);
      const text = await res.text();
      expect(text).not.toMatch(/"key"/);
    }
    // A real, stepped-up SUPER_ADMIN login is refused too.
    const superAdmin = await steppedUpAdmin("SUPER_ADMIN");
    expect((await api(`/api/v1/sessions/${s.id}/key`, { headers: bearer(superAdmin.token) })).status).toBe(403);
    expect((await api(`/api/v1/sessions/${s.id}/key`, { headers: await userHeaders("mallory") })).status).toBe(404);
  });

  it("the owner shares with an X25519 key and a passphrase: only wrapped envelopes are answered and listed, each share audited, and the recipients unwrap the owner's key", async () => {
    const s = await createSession("sk2", "skn2");
    const key = await ownerKey(s.id, "sk2");
    const auditor = x25519.keygen();
    const headers = await userHeaders("sk2");

    const byKey = await share(s.id, headers, {
      label: "Auditor A",
      recipient: { kind: "x25519", publicKey: bytesToHex(auditor.publicKey) },
    });
    expect(byKey.status).toBe(201);
    const keyShare = (await byKey.json()) as ShareJson;
    expect(keyShare).toMatchObject({ label: "Auditor A", recipient: "x25519", createdBy: "user:sk2" });
    expect(keyShare.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(await unwrapKeyShare(keyShare.share, { secretKey: auditor.secretKey })).toEqual(key);
    await expect(unwrapKeyShare(keyShare.share, { secretKey: x25519.keygen().secretKey })).rejects.toThrow();

    const passphrase = "a long shared passphrase for the court";
    const byPass = await share(s.id, headers, { label: "Court", recipient: { kind: "passphrase", passphrase } });
    expect(byPass.status).toBe(201);
    const passShare = (await byPass.json()) as ShareJson;
    expect(await unwrapKeyShare(passShare.share, { passphrase })).toEqual(key);

    const list = await api(`/api/v1/sessions/${s.id}/shares`, { headers });
    const text = await list.text();
    const { items } = JSON.parse(text) as { items: ShareJson[] };
    expect(items.map((i) => i.label).sort()).toEqual(["Auditor A", "Court"]);
    // Neither the plaintext key nor the passphrase is anywhere in the list.
    expect(text).not.toContain(toBase64(key));
    expect(text).not.toContain(bytesToHex(key));
    expect(text).not.toContain(passphrase);
    const audits = await auditOf(s.id, "sessions.key_shared");
    expect(audits).toHaveLength(2);
    expect(audits.map((a) => a.details)).toEqual(
      expect.arrayContaining([expect.objectContaining({ label: "Court", recipient: "passphrase", onBehalfOfOwner: false })]),
    );
    expect(JSON.stringify(audits)).not.toContain(passphrase);
  });

  it("hostile callers: another user, a node, a forged admin token, an admin without step-up; bad recipients change nothing", async () => {
    const s = await createSession("sk3", "skn3");
    const auditor = x25519.keygen();
    const body = { label: "Mallory's friend", recipient: { kind: "x25519", publicKey: toBase64(auditor.publicKey) } };
    expect((await share(s.id, await userHeaders("mallory"), body)).status).toBe(404);
    expect((await share(s.id, { ...(await nodeHeaders("skn3")), "Content-Type": "application/json" }, body)).status).toBe(401);
    // An admin token with no live login behind it cannot release a key.
    expect((await share(s.id, bearer(await tokenFor("root", "ADMIN")), { ...body, totpCode: "123456" })).status).toBe(401);
    const admin = await steppedUpAdmin();
    const bare = await share(s.id, bearer(admin.token), body);
    expect(bare.status).toBe(403);
    expect(await problemOf(bare)).toMatchObject({ type: "/problems/second-factor-required" });
    const wrongCode = await share(s.id, bearer(admin.token), { ...body, totpCode: "000000" });
    expect(wrongCode.status).toBe(403);
    // Bad recipients: a short passphrase, a malformed or wrong-length key, an unknown kind.
    for (const recipient of [
      { kind: "passphrase", passphrase: "short" },
      { kind: "x25519", publicKey: "zz" },
      { kind: "x25519", publicKey: toBase64(new Uint8Array(16)) },
      { kind: "rsa", publicKey: "x" },
    ]) {
      const res = await share(s.id, await userHeaders("sk3"), { label: "x", recipient });
      expect(res.status, JSON.stringify(recipient)).toBe(400);
    }
    const none = (await (await api(`/api/v1/sessions/${s.id}/shares`, { headers: await userHeaders("sk3") })).json()) as {
      items: unknown[];
    };
    expect(none.items).toEqual([]);

    // With a fresh second factor the admin may share another owner's recording (audited as on behalf).
    const stepped = await share(s.id, bearer(admin.token), { ...body, ...admin.totp() });
    expect(stepped.status).toBe(201);
    const made = (await stepped.json()) as ShareJson;
    expect(await unwrapKeyShare(made.share, { secretKey: auditor.secretKey })).toEqual(await ownerKey(s.id, "sk3"));
    expect((await auditOf(s.id, "sessions.key_shared"))[0]).toMatchObject({ actorId: admin.id, details: { onBehalfOfOwner: true } });

    // Once the key is destroyed there is nothing to share.
    expect((await api(`/api/v1/sessions/${s.id}`, { method: "DELETE", headers: await userHeaders("sk3") })).status).toBe(200);
    expect((await share(s.id, await userHeaders("sk3"), body)).status).toBe(410);
  });
});
