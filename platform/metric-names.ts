/**
 * Every metric family the Worker exports, with its type and help text (rendered as # HELP / # TYPE).
 * Imports nothing, so Node code (test/node/prometheus-docs.test.ts) reads the names too.
 */
type MetricType = "counter" | "histogram" | "gauge";
const counter = (help: string) => ({ type: "counter", help }) as const;
const gauge = (help: string) => ({ type: "gauge", help }) as const;
const histogram = (help: string) => ({ type: "histogram", help }) as const;

export const METRIC_HELP: Record<string, { type: MetricType; help: string }> = {
  lucid_alerts_open: gauge('Unresolved (open or acknowledged) alerts by rule (docs/admin.md "Alerts"; 0 when none).'),
  lucid_http_requests_total: counter("HTTP requests by method, route pattern and status."),
  lucid_http_request_duration_seconds: histogram("HTTP request latency by route pattern."),
  lucid_do_calls_total: counter("Durable Object calls by class, method and outcome."),
  lucid_do_call_duration_seconds: histogram("Durable Object call latency by class."),
  lucid_rate_limit_rejections_total: counter("Requests refused with 429, by rate-limit group."),
  lucid_rdp_servers_created_total: counter("RDP servers allocated, by backend."),
  lucid_rdp_server_transitions_total: counter("RDP server lifecycle transitions, by target state."),
  lucid_rdp_server_failures_total: counter("RDP servers failed, by reason."),
  lucid_rdp_connection_transitions_total: counter("RDP connection state changes reported by agents, by target state."),
  lucid_rdp_terminations_total: counter("RDP desktops terminated, by reason (idle-timeout, ttl-expired, limit-exceeded, …)."),
  lucid_rdp_pool_exhausted_total: counter("Desktop requests refused because a host's port pool was full."),
  lucid_rdp_ports_reclaimed_total: counter("Ports reclaimed from leaked or released servers, by cause."),
  lucid_rdp_commands_sent_total: counter("Agent-channel command deliveries, by kind and first/retry."),
  lucid_rdp_commands_acked_total: counter("Agent-channel commands acked, by kind and outcome."),
  lucid_rdp_commands_expired_total: counter("Agent-channel commands given up without an ack, by kind."),
  lucid_rdp_agent_connections_total: counter("Agent channel connections accepted."),
  lucid_rdp_agent_frames_refused_total: counter("Agent frames refused (forged, replayed, malformed), by reason."),
  lucid_rdp_resource_reports_total: counter("Per-server resource reports received from agents."),
  lucid_rdp_network_kbits_total: counter("RDP server network traffic reported by agents, in kbit, by direction."),
  lucid_rdp_alerts_total: counter("RDP monitor alerts raised, by level and metric."),
};
