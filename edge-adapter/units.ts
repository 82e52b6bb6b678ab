// systemd units for a Pi: templates in edge-adapter/systemd/, rendered with the install's paths.
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";

export interface UnitOptions {
  /** Checkout with node_modules installed (npm ci), e.g. /opt/lucid. */
  prefix: string;
  /** Generated workerd config (npm run pi:build). */
  config: string;
  dataDir: string;
  user: string;
  envFile: string;
  agentDataDir: string;
  agentEnvFile: string;
  /** Command line that starts the agent (absolute executable first). */
  agentExec: string;
}

export const UNIT_NAMES = ["lucid-workerd.service", "lucid-agent.service"] as const;

/** `lucid-agent run` from the checkout, with its state in the agent's data directory. */
export function agentExecFor(prefix: string, stateDir: string): string {
  return `${join(prefix, "node_modules", ".bin", "node")} ${join(prefix, "pi-agent", "bin", "lucid-agent.ts")} run --state ${stateDir}`;
}

export function defaultUnitOptions(prefix = "/opt/lucid"): UnitOptions {
  return {
    prefix,
    config: join(prefix, "out", "pi", "lucid.capnp"),
    dataDir: "/var/lib/lucid",
    user: "lucid",
    envFile: "/etc/lucid/lucid.env",
    agentDataDir: "/var/lib/lucid-agent",
    agentEnvFile: "/etc/lucid/agent.env",
    agentExec: agentExecFor(prefix, "/var/lib/lucid-agent"),
  };
}

const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
// systemd splits on whitespace and expands % and $: keep paths to a plain, safe alphabet.
const PATH = /^\/[A-Za-z0-9._\/-]*$/;

function check(options: UnitOptions): void {
  if (!USER.test(options.user)) throw new Error(`user "${options.user}" is not a valid system user name`);
  for (const key of ["prefix", "config", "dataDir", "envFile", "agentDataDir", "agentEnvFile"] as const) {
    const value = options[key];
    if (!isAbsolute(value) || !PATH.test(value) || value.split("/").includes("..")) {
      throw new Error(`${key} must be an absolute path of letters, digits, . _ - / (got "${value}")`);
    }
  }
  const [executable, ...args] = options.agentExec.trim().split(/\s+/);
  if (!executable || !PATH.test(executable) || args.some((a) => /[%$;&|`\\]/.test(a))) {
    throw new Error(`agentExec must start with an absolute executable and contain no %, $ or shell syntax`);
  }
}

/** Renders both units; throws on a value that systemd would misread. */
export function renderUnits(options: UnitOptions): Record<(typeof UNIT_NAMES)[number], string> {
  check(options);
  const values: Record<string, string> = {
    PREFIX: options.prefix,
    CONFIG: options.config,
    DATA_DIR: options.dataDir,
    USER: options.user,
    ENV_FILE: options.envFile,
    AGENT_DATA_DIR: options.agentDataDir,
    AGENT_ENV_FILE: options.agentEnvFile,
    AGENT_EXEC: options.agentExec.trim(),
  };
  const render = (name: string) =>
    readFileSync(join(import.meta.dirname, "systemd", name), "utf8").replace(/@([A-Z_]+)@/g, (_, key: string) => {
      const value = values[key];
      if (value === undefined) throw new Error(`systemd/${name}: unknown placeholder @${key}@`);
      return value;
    });
  return { "lucid-workerd.service": render("lucid-workerd.service"), "lucid-agent.service": render("lucid-agent.service") };
}
