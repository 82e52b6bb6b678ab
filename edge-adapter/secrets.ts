/** Secrets the Worker needs; self-hosted workerd takes them from its environment (fromEnvironment). */
export const SECRET_NAMES = ["JWT_SECRET_KEY", "SESSION_KEK"] as const;

/** Secrets the Worker reads when set (key rotation, mail relay); bound the same way, never required. */
export const OPTIONAL_SECRET_NAMES = ["JWT_SECRET_KEY_PREVIOUS", "MAIL_WEBHOOK_SECRET"] as const;

/** Names of required secrets missing from an environment: checked before workerd starts. */
export function missingSecrets(environment: NodeJS.ProcessEnv): string[] {
  return SECRET_NAMES.filter((name) => !environment[name]);
}
