import type { Config } from "../../shared/config.ts";

/**
 * The host's port pool (RDP_PORT_MIN..RDP_PORT_MAX, at most RDP_MAX_SERVERS held): a server
 * holds its port in the `servers` table while its state holds one (HOLDS_PORT).
 * Returns the lowest free port (the first gap, found by SQLite), or null when the pool is exhausted.
 */
export function freePort(
  sql: SqlStorage,
  config: Pick<Config, "RDP_MAX_SERVERS" | "RDP_PORT_MIN" | "RDP_PORT_MAX">,
  agentPorts?: { min: number; max: number },
): number | null {
  // The agent may serve only part of the pool (hello.ports): allocate inside both.
  const min = Math.max(config.RDP_PORT_MIN, agentPorts?.min ?? 0);
  const max = Math.min(config.RDP_PORT_MAX, agentPorts?.max ?? 65535);
  if (min > max) return null;
  const [{ held }] = sql.exec<{ held: number }>("SELECT count(*) AS held FROM servers WHERE port IS NOT NULL").toArray() as [
    { held: number },
  ];
  if (held >= config.RDP_MAX_SERVERS) return null;
  const [row] = sql
    .exec<{ port: number | null }>(
      `SELECT min(p) AS port FROM (SELECT ? AS p UNION ALL SELECT port + 1 FROM servers WHERE port IS NOT NULL)
       WHERE p >= ? AND p <= ? AND p NOT IN (SELECT port FROM servers WHERE port IS NOT NULL)`,
      min,
      min,
      max,
    )
    .toArray();
  return row?.port ?? null;
}
