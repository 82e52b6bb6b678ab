import type { ResourceReport, ServerLimits } from "../../shared/rdp/protocol.ts";

/** One limit a resource report went over (or came close to). */
export interface Breach {
  metric: "cpu" | "memory" | "disk" | "bandwidth";
  value: number;
  limit: number;
}

/** A report at or above this share of a limit raises a warning alert but no strike. */
export const WARN_RATIO = 0.9;

/**
 * Compares a report with the server's limits: `over` are hard breaches (a strike each report),
 * `near` the metrics above WARN_RATIO of their limit. Bandwidth counts rx + tx.
 */
export function evaluateReport(report: ResourceReport, limits: ServerLimits): { over: Breach[]; near: Breach[] } {
  const measures: Breach[] = [
    { metric: "cpu", value: report.cpuPercent, limit: limits.cpuSharePercent },
    { metric: "memory", value: report.memoryMb, limit: limits.memoryMb },
    { metric: "disk", value: report.diskMb, limit: limits.diskMb },
    { metric: "bandwidth", value: report.rxKbps + report.txKbps, limit: limits.bandwidthKbps },
  ];
  return {
    over: measures.filter((m) => m.value > m.limit),
    near: measures.filter((m) => m.value <= m.limit && m.value >= m.limit * WARN_RATIO),
  };
}

export const UNITS: Record<Breach["metric"], string> = { cpu: "%", memory: " MB", disk: " MB", bandwidth: " kbit/s" };

export function describeBreach(b: Breach): string {
  return `${b.metric} ${b.value}${UNITS[b.metric]} over the limit of ${b.limit}${UNITS[b.metric]}`;
}
