import { and, desc, eq, gte, lt } from "drizzle-orm";
import { logEvent } from "../../shared/log.ts";
import type { EventBody } from "../../shared/rdp/protocol.ts";
import type { CommandQueue } from "./command-queue.ts";
import type { ServerController } from "./controller.ts";
import type { Host } from "./host.ts";
import { describeBreach, evaluateReport } from "./monitor.ts";
import * as schema from "./schema.ts";
import type { ServerRow } from "./views.ts";
import { singleton } from "../../platform/objects.ts";

const { servers, alerts, resourceReports } = schema;

/** How long each report is kept for the dashboard's plots. */
export const REPORT_HISTORY_MS = 24 * 3600 * 1000;

/** One stored resource report (the figures the agent sent, when the host received them). */
export interface ReportPoint {
  at: number;
  cpuPercent: number;
  memoryMb: number;
  diskMb: number;
  rxKbps: number;
  txKbps: number;
}

/**
 * The RDP monitor: the agent's resource reports against each server's limits. A first report
 * over a limit warns the user; RDP_LIMIT_STRIKES in a row end the desktop; nearing a limit
 * raises a warning once. Alerts land in the host's table and the audit log.
 */
export class ResourceMonitor {
  constructor(
    private readonly host: Host,
    private readonly controller: ServerController,
    private readonly commands: CommandQueue,
  ) {}

  async report(row: ServerRow, report: Extract<EventBody, { kind: "resources" }>, now: number): Promise<void> {
    if (row.state !== "running") return;
    const config = this.host.config;
    const { kind: _k, serverId: _s, ...figures } = report;
    const limits = row.limits;
    const { over, near } = evaluateReport(report, limits);
    const strikes = over.length ? row.strikes + 1 : 0;
    this.host.db.update(servers).set({ lastReport: figures, lastReportAt: now, strikes }).where(eq(servers.id, row.id)).run();
    this.#keep(row.id, report, now);
    this.host.count("lucid_rdp_resource_reports_total", {});
    this.host.count("lucid_rdp_network_kbits_total", { direction: "rx" }, report.rxKbps * config.RDP_REPORT_SECONDS);
    this.host.count("lucid_rdp_network_kbits_total", { direction: "tx" }, report.txKbps * config.RDP_REPORT_SECONDS);
    const maxStrikes = config.RDP_LIMIT_STRIKES;
    if (over.length && strikes >= maxStrikes) {
      const message = `Terminated after ${strikes} reports over a limit: ${over.map(describeBreach).join(", ")}.`;
      for (const b of over) await this.#alert(row, "critical", b.metric, b.value, b.limit, message);
      await this.controller.terminate(this.host.server(row.id)!, "limit-exceeded");
    } else if (over.length && strikes === 1) {
      const message = `Over its limit: ${over.map(describeBreach).join(", ")}. The desktop ends after ${maxStrikes} such reports in a row.`;
      for (const b of over) await this.#alert(row, "warning", b.metric, b.value, b.limit, message);
      this.commands.enqueue({ kind: "server.notify", serverId: row.id, level: "warning", message });
    } else if (near.length && row.strikes === 0 && row.lastReport !== null) {
      const previous = evaluateReport({ ...report, ...row.lastReport }, limits).near;
      const fresh = near.filter((b) => !previous.some((p) => p.metric === b.metric));
      for (const b of fresh)
        await this.#alert(row, "warning", b.metric, b.value, b.limit, `Near its limit: ${b.metric} at ${b.value} of ${b.limit}.`);
    }
  }

  /** A server's reports since `since` (ms), oldest first, at most `limit` (the newest ones when there are more); null: no such server. */
  history(serverId: string, since: number, limit: number): ReportPoint[] | null {
    if (!this.host.server(serverId)) return null;
    return this.host.db
      .select({
        at: resourceReports.at,
        cpuPercent: resourceReports.cpuPercent,
        memoryMb: resourceReports.memoryMb,
        diskMb: resourceReports.diskMb,
        rxKbps: resourceReports.rxKbps,
        txKbps: resourceReports.txKbps,
      })
      .from(resourceReports)
      .where(and(eq(resourceReports.serverId, serverId), gte(resourceReports.at, since)))
      .orderBy(desc(resourceReports.at), desc(resourceReports.id))
      .limit(limit)
      .all()
      .reverse();
  }

  #keep(serverId: string, report: Extract<EventBody, { kind: "resources" }>, now: number): void {
    const { cpuPercent, memoryMb, diskMb, rxKbps, txKbps } = report;
    this.host.db.insert(resourceReports).values({ serverId, at: now, cpuPercent, memoryMb, diskMb, rxKbps, txKbps }).run();
    this.host.db
      .delete(resourceReports)
      .where(lt(resourceReports.at, now - REPORT_HISTORY_MS))
      .run();
  }

  async #alert(
    row: ServerRow,
    level: "warning" | "critical",
    metric: string,
    value: number,
    limit: number,
    message: string,
  ): Promise<void> {
    this.host.db
      .insert(alerts)
      .values({ serverId: row.id, level, metric, value: Math.round(value), limit, message, at: Date.now() })
      .run();
    this.host.count("lucid_rdp_alerts_total", { level, metric });
    try {
      // Admins see alerts in the audit log as well as at /api/v1/rdp/alerts.
      await singleton(this.host.env, "AUDIT").record({
        action: level === "critical" ? "rdp.limit.exceeded" : "rdp.limit.warning",
        outcome: "failure",
        targetId: row.id,
        details: { hostId: this.host.id(), sessionId: row.sessionId, ownerId: row.ownerId, metric, value: Math.round(value), limit },
      });
    } catch (error) {
      logEvent("warn", "rdp.alert_audit_failed", { serverId: row.id, error: String(error) }, this.host.config.LOG_LEVEL);
    }
  }
}
