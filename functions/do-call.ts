import { metrics } from "../platform/metrics.ts";

/**
 * Calls a Durable Object method, counting and timing it for /api/v1/system/metrics.
 * Generic over the promise, not its value: RPC turns a method returning a union (an Outcome)
 * into a union of promises, which `() => Promise<T>` cannot infer.
 */
export async function callDurableObject<P extends Promise<unknown>>(className: string, method: string, call: () => P): Promise<Awaited<P>> {
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
