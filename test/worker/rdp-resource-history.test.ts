import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, problemOf } from "./helpers.ts";
import type { TestRdpAgent } from "./rdp-agent.ts";
import { as, hostStub, onlineHost, runningDesktop, serverPath, until } from "./rdp-helpers.ts";

const open: TestRdpAgent[] = [];
afterEach(() => {
  for (const agent of open.splice(0)) agent.close();
});

type History = {
  serverId: string;
  reports: { at: string; cpuPercent: number; memoryMb: number; diskMb: number; rxKbps: number; txKbps: number }[];
};

describe("RDP resource history", { timeout: 60_000 }, () => {
  it("keeps each report for the dashboard's plots: oldest first, the last N minutes, a day at most; the host's operator and admins only", async () => {
    const h = await onlineHost("op-history");
    open.push(h.agent);
    const { desktop } = await runningDesktop("history-user", h);
    const serverId = desktop.server.id;
    const report = (cpuPercent: number, memoryMb: number) => ({
      kind: "resources" as const,
      serverId,
      cpuPercent,
      memoryMb,
      diskMb: 100,
      rxKbps: 80,
      txKbps: 20,
    });
    for (const [cpu, mem] of [
      [5, 300],
      [12, 320],
      [20, 360],
    ] as const)
      h.agent.event(report(cpu, mem));
    const path = await serverPath(h.node.id, serverId, "/reports");
    const history = async (query = "", who = as("op-history", "NODE_OPERATOR")) =>
      (await api(`${path}${query}`, { headers: await who })).json<History>();
    await until(async () => (await history()).reports.length === 3);
    const { reports } = await history();
    expect(reports.map((r) => [r.cpuPercent, r.memoryMb])).toEqual([
      [5, 300],
      [12, 320],
      [20, 360],
    ]);
    expect(reports.every((r, i) => i === 0 || r.at >= reports[i - 1]!.at)).toBe(true);
    expect((await history("", as("admin-1", "ADMIN"))).reports).toHaveLength(3);
    // `limit` keeps the newest.
    expect((await history("?limit=2")).reports.map((r) => r.cpuPercent)).toEqual([12, 20]);

    // Reports older than the window are left out; older than a day, pruned by the next report.
    await runInDurableObject(hostStub(h.node.id), (_i, state) => {
      state.storage.sql.exec("UPDATE resource_reports SET at = at - 2 * 3600 * 1000 WHERE cpu_percent = 5");
      state.storage.sql.exec("UPDATE resource_reports SET at = at - 25 * 3600 * 1000 WHERE cpu_percent = 12");
    });
    expect((await history("?minutes=60")).reports.map((r) => r.cpuPercent)).toEqual([20]);
    expect((await history("?minutes=1440")).reports.map((r) => r.cpuPercent)).toEqual([5, 20]);
    const stored = () =>
      runInDurableObject(hostStub(h.node.id), (_i, state) =>
        state.storage.sql
          .exec("SELECT cpu_percent AS cpu FROM resource_reports ORDER BY at")
          .toArray()
          .map((r) => r.cpu),
      );
    expect(await stored()).toEqual([12, 5, 20]);
    h.agent.event(report(30, 400));
    await until(async () => (await history("?minutes=1440")).reports.length === 3);
    expect(await stored()).toEqual([5, 20, 30]);

    // Another operator, a USER, an unknown server and bad queries.
    expect((await api(path, { headers: await as("op-other", "NODE_OPERATOR") })).status).toBe(404);
    expect((await api(path, { headers: await as("history-user") })).status).toBe(404);
    expect(
      (await api(await serverPath(h.node.id, `rdp_${"0".repeat(24)}`, "/reports"), { headers: await as("admin-1", "ADMIN") })).status,
    ).toBe(404);
    for (const bad of ["?minutes=0", "?minutes=1441", "?limit=x", "?extra=1"]) {
      expect((await problemOf(await api(`${path}${bad}`, { headers: await as("admin-1", "ADMIN") }))).type, bad).toBe(
        "/problems/validation-failed",
      );
    }
  });
});
