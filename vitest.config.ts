import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { ciBlocking, ciFailure, missingTools, SkipSummary } from "./scripts/system-tools.ts";

// Test files whose system tools (Xvfb, xrdp, qemu, chromium, the agent's native addon, …) are missing
// here: left out, and named in one summary at the end. Under CI=true nothing is skipped: a missing
// tool fails the run before any test starts (scripts/system-tools.ts).
const skips = missingTools();
if (ciBlocking(skips).length > 0 && process.env.CI === "true") throw new Error(ciFailure(ciBlocking(skips)));
const skipped = skips.map((s) => s.file);

// Three suites: worker code inside workerd (Miniflare) against real Durable Objects and R2;
// the agent and the edge adapter under plain Node; end-to-end against a real workerd process.
export default defineConfig({
  test: {
    reporters: ["default", new SkipSummary(skips)],
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // A send_email binding under a test-only name (so mailerFor keeps using the dev outbox),
              // for test/worker/send-email-mailer.test.ts.
              email: { send_email: [{ name: "TEST_SEND_EMAIL" }] },
              bindings: {
                LUCID_ENV: "test",
                // Requests go to https://lucid.test (test/worker/helpers.ts); a test that sends another
                // Host shows links and login messages still name this origin.
                PUBLIC_ORIGIN: "https://lucid.test",
                // Tests play workerd's listener: helpers.ts sets request.cf.clientIp as the socket
                // address, so the worker code path is the self-hosted one (docs/gateway.md).
                CLIENT_ADDRESS_SOURCE: "socket",
                LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
                // A fixed test-only secret: the suite signs its own tokens with it.
                JWT_SECRET_KEY: "test-only-jwt-secret-0123456789abcdef0123456789abcdef",
                // Test-only key-encryption key for session data keys (256 bits, hex).
                SESSION_KEK: "5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55",
                CHAIN_PRODUCER_KEY: "1111111111111111111111111111111111111111111111111111111111111111",
                // Small sync pages and rounds, so test/worker/chain-sync.test.ts follows a peer over many rounds
                // with a dozen blocks; a budget no test run reaches (that test exhausts it by starting in the past).
                CHAIN_SYNC_PAGE_BLOCKS: "2",
                CHAIN_SYNC_ROUND_BLOCKS: "4",
                CHAIN_SYNC_BUDGET_MS: "60000",
                // A scrub pass of a few small test chunks spans several alarm runs (test/worker/integrity.test.ts).
                INTEGRITY_SCRUB_BYTES_PER_RUN: "4096",
                JWT_SECRET_KEY_PREVIOUS: "test-only-previous-jwt-secret-0123456789abcdef01234567",
                // Test key 0x…02's address: its first login becomes the SUPER_ADMIN (test/worker/auth-helpers.ts).
                BOOTSTRAP_SUPER_ADMIN_ADDRESS: "TDvSsdrNM5eeXNL3czpa6AxLDHZA9nwe9K",
                // Test-only wallet key; TRON calls go to the test double started by globalSetup.
                WALLET_ENCRYPTION_KEY: "7e57000000000000000000000000000000000000000000000000000000000001",
                TRON_RPC_URL: inject("tronDoubleUrl"),
                TRON_TIMEOUT_MS: "1000",
                // Test-only Prometheus scrape token (test/worker/observability.test.ts).
                METRICS_SCRAPE_TOKEN: "test-only-metrics-scrape-token-0123456789abcdef",
                TRON_MAX_RETRIES: "1",
                // Alerts go to the receiver started by globalSetup (test/alert-receiver/), which checks
                // the signature, and by mail to the dev outbox (test/worker/alerts-*.test.ts).
                ALERT_WEBHOOK_URLS: `${inject("alertReceiverUrl")}/hook`,
                ALERT_WEBHOOK_SECRET: "test-only-alert-webhook-secret-0123456789abcdef",
                ALERT_MAIL_TO: "ops@lucid.test",
              },
            },
          })),
        ],
        // Generous timeouts: the first test of a file pays for workerd start-up, and CI shares 2 cores.
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          globalSetup: ["test/tron-double/global-setup.ts", "test/alert-receiver/global-setup.ts"],
        },
      },
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          exclude: ["test/node/agent-*.test.ts", ...skipped],
          environment: "node",
          testTimeout: 30_000,
        },
      },
      {
        // The agent's tests start X servers, xrdp and real agent processes and time retries on
        // loopback: they run as their own group, after the others, so the machine is theirs.
        test: {
          name: "agent",
          // The whole-flow end-to-end test runs the real agent on a real X server: it belongs here.
          include: ["test/node/agent-*.test.ts", "test/e2e/whole-flow.test.ts"],
          exclude: skipped,
          environment: "node",
          testTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          exclude: ["test/e2e/whole-flow.test.ts", "test/e2e/workerd-arm64.test.ts", ...skipped],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The Pi's arm64 workerd under qemu-aarch64 user emulation: minutes, so a group of its own.
        test: {
          name: "arm64",
          include: ["test/e2e/workerd-arm64.test.ts"],
          exclude: skipped,
          environment: "node",
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
