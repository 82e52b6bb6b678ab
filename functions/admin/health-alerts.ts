import type { CheckResult } from "../../durable-objects/system/index.ts";
import type { Env } from "../../platform/env.ts";
import { logEvent } from "../../shared/log.ts";
import { callAdmin } from "./context.ts";

/**
 * Feeds health-check results to AdminDO: a function failing healthAlertAfterFailures times in
 * a row raises `health:<name>`, a healthy check resolves it. Best effort: when AdminDO itself
 * is down the health report still answers (and its own check says so).
 */
export async function observeHealth(env: Env, results: readonly CheckResult[]): Promise<void> {
  try {
    await callAdmin(env, "observeHealth", (stub) =>
      stub.observeHealth(results.map((r) => ({ name: r.name, status: r.status, detail: r.detail ?? null }))),
    );
  } catch (error) {
    logEvent("warn", "admin.health_alerts_failed", { error: String(error) });
  }
}
