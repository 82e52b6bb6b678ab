// Creates or completes the git-ignored .dev.vars with random secrets, keeping existing values.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Secrets `npm start` generates; keep in sync with edge-adapter/secrets.ts and docs/configuration.md. */
export const DEV_SECRETS = ["JWT_SECRET_KEY", "CHAIN_PRODUCER_KEY", "WALLET_ENCRYPTION_KEY", "SESSION_KEK"];

/** Adds the missing secrets (random) and the missing `extra` variables (as given); returns the names added. */
export function ensureDevVars(path, extra = {}) {
  const existing = existsSync(path) ? readFileSync(path, "utf8") : "";
  const present = new Set([...existing.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
  const wanted = [...DEV_SECRETS.map((name) => [name, randomBytes(32).toString("hex")]), ...Object.entries(extra)];
  const added = wanted.filter(([name]) => !present.has(name));
  if (added.length === 0) return [];
  const lines = added.map(([name, value]) => `${name}=${value}`);
  const header = existing ? "" : "# Local secrets for `npm start` (wrangler dev). Generated; never commit this file.\n";
  writeFileSync(path, `${existing}${existing && !existing.endsWith("\n") ? "\n" : ""}${header}${lines.join("\n")}\n`, {
    mode: 0o600,
  });
  return added.map(([name]) => name);
}
