import { metrics } from "./metrics.ts";

/** Calls a Durable Object method, counting and timing it for /api/v1/system/metrics. */
export async function callDurableObject<T>(className: string, method: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let outcome = "error";
  try {
    const result = await call();
    outcome = "ok";
    return result;
  } finally {
    metrics.inc("lucid_do_calls_total", { class: className, method, outcome });
    metrics.observe("lucid_do_call_duration_seconds", { class: className }, (performance.now() - started) / 1000);
  }
}
