/** Secrets the Worker reads; self-hosted workerd takes them from its environment (fromEnvironment). */
export const SECRET_NAMES = ["JWT_SECRET_KEY", "SESSION_KEK"] as const;

/** Names of required secrets missing from an environment: checked before workerd starts. */
export function missingSecrets(environment: NodeJS.ProcessEnv): string[] {
  return SECRET_NAMES.filter((name) => !environment[name]);
}
