/**
 * The seed's 27 containers and the Lucid function that does each one's job (DESIGN.md).
 * `/api/v1/system/services` reports each seed service through that function's health check;
 * a function that is not built yet is reported as such, never as healthy.
 */
export const SEED_SERVICES = [
  { id: 1, name: "MongoDB", function: "system", note: "Durable Object SQLite (drizzle) in each DO class" },
  { id: 2, name: "Redis", function: "rate-limiter", note: "DO state: counters, TTLs via alarms, pub/sub via DO WebSockets" },
  { id: 3, name: "Elasticsearch", function: "sessions", note: "SQLite FTS5 inside the owning DOs" },
  { id: 4, name: "Auth Service", function: "auth", note: "functions/auth" },
  { id: 5, name: "API Gateway", function: "gateway", note: "the root Hono app" },
  { id: 6, name: "Service Mesh Controller", function: "system", note: "one Worker: service registry in SystemDO" },
  { id: 7, name: "Blockchain Engine", function: "chain", note: "ChainDO" },
  { id: 8, name: "Session Anchoring", function: "chain", note: "ChainDO anchors" },
  { id: 9, name: "Block Manager", function: "chain", note: "ChainDO blocks" },
  { id: 10, name: "Data Chain", function: "chain", note: "ChainDO storage, sync, pruning" },
  { id: 11, name: "Session Pipeline", function: "sessions", note: "SessionDO lifecycle" },
  { id: 12, name: "Session Recorder", function: "recorder", note: "lucid-agent capture, from the nodes' heartbeats" },
  {
    id: 13,
    name: "Chunk Processor",
    function: "chunk-processor",
    note: "lucid-agent zstd + XChaCha20-Poly1305, from the nodes' heartbeats",
  },
  { id: 14, name: "Session Storage", function: "chunk-store", note: "R2 / workerd disk service" },
  { id: 15, name: "Session API", function: "sessions", note: "functions/sessions" },
  { id: 16, name: "RDP Server Manager", function: "rdp", note: "RdpHostDO" },
  { id: 17, name: "RDP XRDP", function: "xrdp", note: "xrdp driven by lucid-agent, from the nodes' heartbeats" },
  { id: 18, name: "RDP Controller", function: "rdp", note: "RdpHostDO connection states" },
  { id: 19, name: "RDP Monitor", function: "rdp", note: "agent resource reports" },
  { id: 20, name: "Node Management", function: "nodes", note: "NodePoolDO" },
  { id: 21, name: "Admin Interface", function: "admin", note: "functions/admin + dashboard" },
  { id: 22, name: "TRON Client", function: "payments", note: "shared/tron" },
  { id: 23, name: "Payout Router", function: "payments", note: "LedgerDO payouts" },
  { id: 24, name: "Wallet Manager", function: "payments", note: "LedgerDO wallets" },
  { id: 25, name: "USDT Manager", function: "payments", note: "TRC20 transfers" },
  { id: 26, name: "TRX Staking", function: "payments", note: "staking" },
  { id: 27, name: "Payment Gateway", function: "payments", note: "functions/payments" },
] as const;
