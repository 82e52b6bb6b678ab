/**
 * One JSON line per event on stdout/stderr: workerd, wrangler and journald all collect
 * console output. Never pass secrets here; callers log ids, not credentials.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function shouldLog(level: LogLevel, threshold: LogLevel | "silent" = "info"): boolean {
  return RANK[level] >= RANK[threshold];
}

export function logEvent(
  level: LogLevel,
  event: string,
  fields: Record<string, unknown> = {},
  threshold: LogLevel | "silent" = "info",
): void {
  if (!shouldLog(level, threshold)) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}
