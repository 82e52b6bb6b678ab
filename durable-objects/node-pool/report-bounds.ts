import type { Report } from "../../shared/nodes/protocol.ts";
import { refuse, type Refusal } from "../../shared/outcome.ts";
import type { NodeRow } from "./views.ts";

/**
 * A report may not claim more than the node declared it can do at enrolment. The figures are
 * never paid (PoOT uses what the server observed), but they feed the health display and the
 * review of disagreements, so an impossible one is refused like any other bad input:
 * - bytesRecorded (since the previous beat) ≤ the declared bandwidth over the time since the
 *   previous accepted beat (or registration), twice over for bursts;
 * - sessionsHosted ≤ MAX_SESSIONS_PER_CORE per declared core.
 */
export const MAX_SESSIONS_PER_CORE = 64;
const BANDWIDTH_HEADROOM = 2;

export function reportBoundsRefusal(node: NodeRow, report: Report, nowMs: number): Refusal | null {
  const sinceMs = Math.max(1000, nowMs - (node.lastHeartbeatAt ?? node.registeredAt));
  const maxBytes = Math.floor(((node.bandwidthMbps * 1_000_000) / 8) * (sinceMs / 1000) * BANDWIDTH_HEADROOM);
  if (report.bytesRecorded > maxBytes) {
    return refuse(
      "report-out-of-bounds",
      `bytesRecorded ${report.bytesRecorded} exceeds ${maxBytes}: ${node.bandwidthMbps} Mbit/s declared over ${Math.round(sinceMs / 1000)} s.`,
      {
        field: "bytesRecorded",
        max: maxBytes,
      },
    ).problem;
  }
  const maxSessions = node.cpuCores * MAX_SESSIONS_PER_CORE;
  if (report.sessionsHosted > maxSessions) {
    return refuse(
      "report-out-of-bounds",
      `sessionsHosted ${report.sessionsHosted} exceeds ${maxSessions} for ${node.cpuCores} declared cores.`,
      {
        field: "sessionsHosted",
        max: maxSessions,
      },
    ).problem;
  }
  return null;
}
