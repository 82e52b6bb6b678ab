import type { MetricDelta } from "../durable-objects/system/index.ts";
import { METRIC_HELP } from "./metric-names.ts";

/**
 * Prometheus metrics. Each isolate buffers counter deltas in memory (one object per isolate,
 * created at module load: incrementing a remote counter per request would double the cost of
 * every request) and flushes them to SystemDO at most every FLUSH_INTERVAL_MS and on every
 * scrape. SystemDO sums all isolates. A failed flush puts its deltas back: nothing is lost.
 * Histograms are kept as bucket arrays while buffered and expanded into `_bucket{le}`,
 * `_sum` and `_count` series only when flushed, to keep the per-request cost at one lookup.
 */
export const FLUSH_INTERVAL_MS = 10_000;
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export { METRIC_HELP };

/** Label text in the order given; callers always pass the same keys in the same order. */
export function labelText(labels: Record<string, string>): string {
  let text = "";
  for (const key in labels) {
    const value = labels[key]!;
    const escaped = /[\\"\n]/.test(value) ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : value;
    text += `${text ? "," : ""}${key}="${escaped}"`;
  }
  return text;
}

interface Histogram {
  name: string;
  labels: string;
  buckets: number[];
  sum: number;
  count: number;
}

export class MetricsBuffer {
  #counters = new Map<string, MetricDelta>();
  #histograms = new Map<string, Histogram>();
  #lastFlush = Date.now();

  inc(name: string, labels: Record<string, string>, by = 1): void {
    const text = labelText(labels);
    const key = `${name}{${text}}`;
    const current = this.#counters.get(key);
    if (current) current.value += by;
    else this.#counters.set(key, { name, labels: text, value: by });
  }

  observe(name: string, labels: Record<string, string>, seconds: number): void {
    const text = labelText(labels);
    const key = `${name}{${text}}`;
    let histogram = this.#histograms.get(key);
    if (!histogram) {
      histogram = { name, labels: text, buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#histograms.set(key, histogram);
    }
    const bucket = DURATION_BUCKETS.findIndex((le) => seconds <= le);
    if (bucket >= 0) histogram.buckets[bucket]! += 1;
    histogram.sum += seconds;
    histogram.count += 1;
  }

  /** Whether a flush is due: checked per request before scheduling any work. */
  due(now = Date.now()): boolean {
    return now - this.#lastFlush >= FLUSH_INTERVAL_MS && (this.#counters.size > 0 || this.#histograms.size > 0);
  }

  /** Takes the pending deltas if a flush is due (or forced); the caller sends them or restores them. */
  take(force = false, now = Date.now()): MetricDelta[] {
    if (this.#counters.size === 0 && this.#histograms.size === 0) return [];
    if (!force && now - this.#lastFlush < FLUSH_INTERVAL_MS) return [];
    this.#lastFlush = now;
    const deltas = [...this.#counters.values()];
    for (const h of this.#histograms.values()) {
      const prefix = h.labels ? `${h.labels},` : "";
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += h.buckets[i]!;
        deltas.push({ name: `${h.name}_bucket`, labels: `${prefix}le="${le}"`, value: cumulative });
      });
      deltas.push({ name: `${h.name}_bucket`, labels: `${prefix}le="+Inf"`, value: h.count });
      deltas.push({ name: `${h.name}_sum`, labels: h.labels, value: h.sum });
      deltas.push({ name: `${h.name}_count`, labels: h.labels, value: h.count });
    }
    this.#counters = new Map();
    this.#histograms = new Map();
    return deltas;
  }

  /** Puts deltas back after a failed flush (they are plain counters by then). */
  restore(deltas: MetricDelta[]): void {
    for (const delta of deltas) {
      const key = `${delta.name}{${delta.labels}}`;
      const current = this.#counters.get(key);
      if (current) current.value += delta.value;
      else this.#counters.set(key, { ...delta });
    }
  }
}

export const metrics = new MetricsBuffer();

/** Renders series in the Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(series: MetricDelta[]): string {
  const byFamily = new Map<string, MetricDelta[]>();
  for (const s of series) {
    const family = s.name.replace(/_(bucket|sum|count)$/, "");
    const key = METRIC_HELP[family] ? family : s.name;
    byFamily.set(key, [...(byFamily.get(key) ?? []), s]);
  }
  const lines: string[] = [];
  for (const family of [...byFamily.keys()].sort()) {
    const meta = METRIC_HELP[family];
    if (meta) lines.push(`# HELP ${family} ${meta.help}`, `# TYPE ${family} ${meta.type}`);
    const rows = byFamily.get(family)!.sort(compareSeries);
    for (const row of rows) lines.push(`${row.name}${row.labels ? `{${row.labels}}` : ""} ${formatValue(row.value)}`);
  }
  return `${lines.join("\n")}\n`;
}

const LE = /(?:^|,)le="([^"]*)"/;

/** Name, then labels without `le`, then `le` numerically, so histogram buckets come out in order. */
function compareSeries(a: MetricDelta, b: MetricDelta): number {
  const suffixOrder = (name: string) => (name.endsWith("_bucket") ? 0 : name.endsWith("_sum") ? 1 : 2);
  const base = (s: MetricDelta) => s.labels.replace(LE, "");
  const le = (s: MetricDelta) => {
    const value = LE.exec(s.labels)?.[1];
    return value === undefined ? 0 : value === "+Inf" ? Infinity : Number(value);
  };
  return (
    base(a).localeCompare(base(b), "en") || suffixOrder(a.name) - suffixOrder(b.name) || a.name.localeCompare(b.name, "en") || le(a) - le(b)
  );
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(12).replace(/\.?0+$/, "");
}
