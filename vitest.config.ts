import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Three suites: worker code inside workerd (Miniflare) against real Durable Objects and R2;
// the agent and the edge adapter under plain Node; end-to-end against a real workerd process.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // A send_email binding under a test-only name (so mailerFor keeps using the dev outbox),
              // for test/worker/send-email-mailer.test.ts.
              email: { send_email: [{ name: "TEST_SEND_EMAIL" }] },
              bindings: {
                LUCID_ENV: "test",
                LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
                // A fixed test-only secret: the suite signs its own tokens with it.
                JWT_SECRET_KEY: "test-only-jwt-secret-0123456789abcdef0123456789abcdef",
                // Test-only key-encryption key for session data keys (256 bits, hex).
                SESSION_KEK: "5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55",
                JWT_SECRET_KEY_PREVIOUS: "test-only-previous-jwt-secret-0123456789abcdef01234567",
                // Test key 0x…02's address: its first login becomes the SUPER_ADMIN (test/worker/auth-helpers.ts).
                BOOTSTRAP_SUPER_ADMIN_ADDRESS: "TDvSsdrNM5eeXNL3czpa6AxLDHZA9nwe9K",
              },
            },
          }),
        ],
        // Generous timeouts: the first test of a file pays for workerd start-up, and CI shares 2 cores.
        test: { name: "worker", include: ["test/worker/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node", testTimeout: 30_000 },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
