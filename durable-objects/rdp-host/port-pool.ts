import type { Config } from "../../shared/config.ts";

/**
 * The host's port pool (RDP_PORT_MIN..RDP_PORT_MAX, at most RDP_MAX_SERVERS held): a server
 * holds its port in the `servers` table while its state holds one (HOLDS_PORT).
 * Returns the lowest free port (the first gap, found by SQLite), or null when the pool is exhausted.
 */
export function freePort(sql: SqlStorage, config: Pick<Config, "RDP_MAX_SERVERS" | "RDP_PORT_MIN" | "RDP_PORT_MAX">): number | null {
  const [{ held }] = sql.exec<{ held: number }>("SELECT count(*) AS held FROM servers WHERE port IS NOT NULL").toArray() as [{ held: number }];
  if (held >= config.RDP_MAX_SERVERS) return null;
  const [row] = sql
    .exec<{ port: number | null }>(
      `SELECT min(p) AS port FROM (SELECT ? AS p UNION ALL SELECT port + 1 FROM servers WHERE port IS NOT NULL)
       WHERE p <= ? AND p NOT IN (SELECT port FROM servers WHERE port IS NOT NULL)`,
      config.RDP_PORT_MIN,
      config.RDP_PORT_MAX,
    )
    .toArray();
  return row?.port ?? null;
}
