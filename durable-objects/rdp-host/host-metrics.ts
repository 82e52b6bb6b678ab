import { MetricsBuffer } from "../../platform/metrics.ts";
import type { Env } from "../../platform/env.ts";
import { singleton } from "../../platform/objects.ts";

/** Counters that matter as soon as they happen; the others wait for the next flush. */
const RARE_METRICS = new Set([
  "lucid_rdp_terminations_total",
  "lucid_rdp_server_failures_total",
  "lucid_rdp_alerts_total",
  "lucid_rdp_pool_exhausted_total",
  "lucid_rdp_ports_reclaimed_total",
  "lucid_rdp_commands_expired_total",
]);

/** Buffered like the Worker's own counters; rare events (terminations, failures, alerts) go out at once. */
export class HostMetrics {
  readonly #buffer = new MetricsBuffer();
  #flushSoon = false;

  constructor(private readonly env: Env) {}

  count(name: string, labels: Record<string, string>, by = 1): void {
    this.#buffer.inc(name, labels, by);
    if (RARE_METRICS.has(name)) this.#flushSoon = true;
  }

  async flush(force = false): Promise<void> {
    const deltas = this.#buffer.take(force || this.#flushSoon);
    this.#flushSoon = false;
    if (!deltas.length) return;
    try {
      await singleton(this.env, "SYSTEM").addMetrics(deltas);
    } catch {
      this.#buffer.restore(deltas);
    }
  }
}
