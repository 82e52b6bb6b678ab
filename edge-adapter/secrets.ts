/** Secrets the Worker needs; self-hosted workerd takes them from its environment (fromEnvironment). */
export const SECRET_NAMES = ["JWT_SECRET_KEY", "CHAIN_PRODUCER_KEY", "WALLET_ENCRYPTION_KEY", "SESSION_KEK"] as const;

/** Secrets the Worker reads when set (key rotation, mail relay, metrics scraping); bound the same way, never required. */
export const OPTIONAL_SECRET_NAMES = [
  "JWT_SECRET_KEY_PREVIOUS",
  "MAIL_WEBHOOK_SECRET",
  "TRON_API_KEY",
  "METRICS_SCRAPE_TOKEN",
  "ALERT_WEBHOOK_SECRET",
] as const;

/** Fresh random values for every required secret: for tests and benchmarks that start a workerd. */
export function randomSecrets(): Record<(typeof SECRET_NAMES)[number], string> {
  const hex = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
  return Object.fromEntries(SECRET_NAMES.map((name) => [name, hex()])) as Record<(typeof SECRET_NAMES)[number], string>;
}

/** Names of required secrets missing from an environment: checked before workerd starts. */
export function missingSecrets(environment: NodeJS.ProcessEnv): string[] {
  return SECRET_NAMES.filter((name) => !environment[name]);
}
