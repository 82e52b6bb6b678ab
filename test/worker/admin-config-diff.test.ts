import { describe, expect, it } from "vitest";
import { DEFAULT_SYSTEM_CONFIG, diffConfig } from "../../shared/admin.ts";
import { adminGet, adminSend, steppedUpAdmin } from "./admin-helpers.ts";
import { problemOf, tokenFor } from "./helpers.ts";

type Diff = { from: { version: number }; to: { version: number }; changes: { path: string; before: unknown; after: unknown }[] };

describe("configuration diff", () => {
  it("diffConfig names each changed setting by path, nested ones included, and nothing else", () => {
    expect(diffConfig({ a: 1, b: "x", n: { t: 2, u: [1] } }, { a: 1, b: "y", n: { t: 3, u: [1] }, c: true })).toEqual([
      { path: "b", before: "x", after: "y" },
      { path: "c", before: undefined, after: true },
      { path: "n.t", before: 2, after: 3 },
    ]);
    expect(diffConfig(DEFAULT_SYSTEM_CONFIG, { ...DEFAULT_SYSTEM_CONFIG })).toEqual([]);
  });

  it("GET /admin/config/diff: between two versions, to the current one by default, from the defaults (0); unknown versions are 404", async () => {
    const { token } = await steppedUpAdmin();
    const first = { ...DEFAULT_SYSTEM_CONFIG, healthAlertAfterFailures: 4 };
    expect(
      (await adminSend("PUT", "/api/v1/admin/config", { config: first, expectedVersion: 0, reason: "four failures" }, token)).status,
    ).toBe(200);
    const second = { ...first, notificationHistory: 300, lockdownMessage: "Back soon." };
    expect(
      (await adminSend("PUT", "/api/v1/admin/config", { config: second, expectedVersion: 1, reason: "more history" }, token)).status,
    ).toBe(200);

    const between = await (await adminGet("/api/v1/admin/config/diff?from=1&to=2", token)).json<Diff>();
    expect(between.from.version).toBe(1);
    expect(between.to.version).toBe(2);
    expect(between.changes).toEqual([
      { path: "lockdownMessage", before: DEFAULT_SYSTEM_CONFIG.lockdownMessage, after: "Back soon." },
      { path: "notificationHistory", before: DEFAULT_SYSTEM_CONFIG.notificationHistory, after: 300 },
    ]);
    const fromDefaults = await (await adminGet("/api/v1/admin/config/diff?from=0", token)).json<Diff>();
    expect(fromDefaults.to.version).toBe(2);
    expect(fromDefaults.changes.map((c) => c.path)).toEqual(["healthAlertAfterFailures", "lockdownMessage", "notificationHistory"]);
    expect((await (await adminGet("/api/v1/admin/config/diff?from=2&to=2", token)).json<Diff>()).changes).toEqual([]);

    expect((await problemOf(await adminGet("/api/v1/admin/config/diff?from=9", token))).status).toBe(404);
    expect((await problemOf(await adminGet("/api/v1/admin/config/diff?from=1&to=9", token))).status).toBe(404);
    for (const bad of ["", "?from=-1", "?from=x", "?from=1&to=1.5", "?from=1&extra=1"]) {
      expect((await problemOf(await adminGet(`/api/v1/admin/config/diff${bad}`, token))).type, bad).toBe("/problems/validation-failed");
    }
    expect((await adminGet("/api/v1/admin/config/diff?from=0", await tokenFor(crypto.randomUUID(), "USER"))).status).toBe(403);
  });
});
