// The seed's Electron-GUI endpoints (one container per port, each at http://<host>:<port>/api/v1).
// With --legacy-ports, pi:build adds one socket per port; a small router worker maps each port's
// /api/v1/<path> onto the function's surface, so an existing GUI build keeps working unchanged.

export interface LegacyPort {
  /** Seed service the port belonged to (also names the socket and its router service). */
  name: string;
  port: number;
  /** Path prefix the port's /api/v1 maps onto; "/api/v1" means unchanged (the gateway). */
  target: string;
}

export const LEGACY_PORTS: readonly LegacyPort[] = [
  { name: "gateway", port: 8080, target: "/api/v1" },
  { name: "admin", port: 8083, target: "/api/v1/admin" },
  { name: "blockchain", port: 8084, target: "/api/v1/chain" },
  { name: "sessions", port: 8087, target: "/api/v1/sessions" },
  { name: "tron-client", port: 8091, target: "/api/v1/payments/tron" },
  { name: "wallets", port: 8093, target: "/api/v1/payments/wallets" },
  { name: "nodes", port: 8095, target: "/api/v1/nodes" },
  { name: "payments", port: 8097, target: "/api/v1/payments" },
];

/** Checks a port map: names usable in capnp service names, distinct ports, targets under /api/v1. */
export function validateLegacyPorts(ports: readonly LegacyPort[]): void {
  const seen = new Set<number>();
  for (const { name, port, target } of ports) {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`legacy port name "${name}" must be lower-case kebab-case`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`legacy port ${name}: ${port} is not a TCP port`);
    if (seen.has(port)) throw new Error(`legacy port ${port} is listed twice`);
    if (!/^\/api\/v1(\/[a-z0-9-]+)*$/.test(target)) throw new Error(`legacy port ${name}: target "${target}" is not under /api/v1`);
    seen.add(port);
  }
}
