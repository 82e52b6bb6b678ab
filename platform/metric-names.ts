/**
 * Every metric family the Worker exports, with its type and help text (rendered as # HELP / # TYPE).
 * Imports nothing, so Node code (test/node/prometheus-docs.test.ts) reads the names too.
 */
export const METRIC_HELP: Record<string, { type: "counter" | "histogram" | "gauge"; help: string }> = {
  lucid_alerts_open: { type: "gauge", help: 'Unresolved (open or acknowledged) alerts by rule (docs/admin.md "Alerts"; 0 when none).' },
  lucid_http_requests_total: { type: "counter", help: "HTTP requests by method, route pattern and status." },
  lucid_http_request_duration_seconds: { type: "histogram", help: "HTTP request latency by route pattern." },
  lucid_do_calls_total: { type: "counter", help: "Durable Object calls by class, method and outcome." },
  lucid_do_call_duration_seconds: { type: "histogram", help: "Durable Object call latency by class." },
  lucid_rate_limit_rejections_total: { type: "counter", help: "Requests refused with 429, by rate-limit group." },
  lucid_rdp_servers_created_total: { type: "counter", help: "RDP servers allocated, by backend." },
  lucid_rdp_server_transitions_total: { type: "counter", help: "RDP server lifecycle transitions, by target state." },
  lucid_rdp_server_failures_total: { type: "counter", help: "RDP servers failed, by reason." },
  lucid_rdp_connection_transitions_total: { type: "counter", help: "RDP connection state changes reported by agents, by target state." },
  lucid_rdp_terminations_total: {
    type: "counter",
    help: "RDP desktops terminated, by reason (idle-timeout, ttl-expired, limit-exceeded, …).",
  },
  lucid_rdp_pool_exhausted_total: { type: "counter", help: "Desktop requests refused because a host's port pool was full." },
  lucid_rdp_ports_reclaimed_total: { type: "counter", help: "Ports reclaimed from leaked or released servers, by cause." },
  lucid_rdp_commands_sent_total: { type: "counter", help: "Agent-channel command deliveries, by kind and first/retry." },
  lucid_rdp_commands_acked_total: { type: "counter", help: "Agent-channel commands acked, by kind and outcome." },
  lucid_rdp_commands_expired_total: { type: "counter", help: "Agent-channel commands given up without an ack, by kind." },
  lucid_rdp_agent_connections_total: { type: "counter", help: "Agent channel connections accepted." },
  lucid_rdp_agent_frames_refused_total: { type: "counter", help: "Agent frames refused (forged, replayed, malformed), by reason." },
  lucid_rdp_resource_reports_total: { type: "counter", help: "Per-server resource reports received from agents." },
  lucid_rdp_network_kbits_total: { type: "counter", help: "RDP server network traffic reported by agents, in kbit, by direction." },
  lucid_rdp_alerts_total: { type: "counter", help: "RDP monitor alerts raised, by level and metric." },
};
