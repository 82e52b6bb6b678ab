/** One row: the container's number and name, the Lucid function doing its job, and how. */
const service = <const F extends string>(id: number, name: string, fn: F, note: string) => ({ id, name, function: fn, note });

/**
 * The seed's 27 containers and the Lucid function that does each one's job (DESIGN.md).
 * `/api/v1/system/services` reports each seed service through that function's health check;
 * a function that is not built yet is reported as such, never as healthy.
 */
export const SEED_SERVICES = [
  service(1, "MongoDB", "system", "Durable Object SQLite (drizzle) in each DO class"),
  service(2, "Redis", "rate-limiter", "DO state: counters, TTLs via alarms, pub/sub via DO WebSockets"),
  service(3, "Elasticsearch", "sessions", "SQLite FTS5 inside the owning DOs"),
  service(4, "Auth Service", "auth", "functions/auth"),
  service(5, "API Gateway", "gateway", "the root Hono app"),
  service(6, "Service Mesh Controller", "system", "one Worker: service registry in SystemDO"),
  service(7, "Blockchain Engine", "chain", "ChainDO"),
  service(8, "Session Anchoring", "chain", "ChainDO anchors"),
  service(9, "Block Manager", "chain", "ChainDO blocks"),
  service(10, "Data Chain", "chain", "ChainDO storage, sync, pruning"),
  service(11, "Session Pipeline", "sessions", "SessionDO lifecycle"),
  service(12, "Session Recorder", "recorder", "lucid-agent capture, from the nodes' heartbeats"),
  service(13, "Chunk Processor", "chunk-processor", "lucid-agent zstd + XChaCha20-Poly1305, from the nodes' heartbeats"),
  service(14, "Session Storage", "chunk-store", "R2 / workerd disk service"),
  service(15, "Session API", "sessions", "functions/sessions"),
  service(16, "RDP Server Manager", "rdp", "RdpHostDO"),
  service(17, "RDP XRDP", "xrdp", "xrdp driven by lucid-agent, from the nodes' heartbeats"),
  service(18, "RDP Controller", "rdp", "RdpHostDO connection states"),
  service(19, "RDP Monitor", "rdp", "agent resource reports"),
  service(20, "Node Management", "nodes", "NodePoolDO"),
  service(21, "Admin Interface", "admin", "functions/admin + dashboard"),
  service(22, "TRON Client", "payments", "shared/tron"),
  service(23, "Payout Router", "payments", "LedgerDO payouts"),
  service(24, "Wallet Manager", "payments", "LedgerDO wallets"),
  service(25, "USDT Manager", "payments", "TRC20 transfers"),
  service(26, "TRX Staking", "payments", "staking"),
  service(27, "Payment Gateway", "payments", "functions/payments"),
] as const;
