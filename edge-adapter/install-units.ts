#!/usr/bin/env node
// npm run pi:install-units -- [--dry-run] — renders the systemd units for workerd and the agent
// (edge-adapter/systemd/) with this install's paths, prints them with --dry-run, otherwise writes
// them to --unit-dir and prints the root steps that remain (users, secrets file, enabling), then runs
// `lucid-agent doctor` (page size, VA bits, X, xrdp, cgroups, disk, clock, certificate) unless --no-doctor.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SECRET_NAMES } from "./secrets.ts";
import { agentExecFor, defaultUnitOptions, renderUnits, UNIT_NAMES } from "./units.ts";

const USAGE = `usage: npm run pi:install-units -- [--dry-run] [--unit-dir /etc/systemd/system] [--prefix <checkout>]
       [--config <prefix>/out/pi/lucid.capnp] [--data-dir /var/lib/lucid] [--user lucid] [--env-file /etc/lucid/lucid.env]
       [--agent-data-dir /var/lib/lucid-agent] [--agent-env-file /etc/lucid/agent.env]
       [--agent-exec "<absolute command line>"] [--no-doctor] [--cert <file> --hostname <name>]`;

try {
  const { values } = parseArgs({
    options: {
      "dry-run": { type: "boolean", default: false },
      "unit-dir": { type: "string", default: "/etc/systemd/system" },
      prefix: { type: "string", default: resolve(import.meta.dirname, "..") },
      config: { type: "string" },
      "data-dir": { type: "string" },
      user: { type: "string" },
      "env-file": { type: "string" },
      "agent-data-dir": { type: "string" },
      "agent-env-file": { type: "string" },
      "agent-exec": { type: "string" },
      "no-doctor": { type: "boolean", default: false },
      cert: { type: "string" },
      hostname: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const defaults = defaultUnitOptions(resolve(values.prefix!));
  const options = {
    prefix: defaults.prefix,
    config: values.config ? resolve(values.config) : defaults.config,
    dataDir: values["data-dir"] ? resolve(values["data-dir"]) : defaults.dataDir,
    user: values.user ?? defaults.user,
    envFile: values["env-file"] ? resolve(values["env-file"]) : defaults.envFile,
    agentDataDir: values["agent-data-dir"] ? resolve(values["agent-data-dir"]) : defaults.agentDataDir,
    agentEnvFile: values["agent-env-file"] ? resolve(values["agent-env-file"]) : defaults.agentEnvFile,
    agentExec: "",
  };
  options.agentExec = values["agent-exec"] ?? agentExecFor(defaults.prefix, options.agentDataDir);
  const units = renderUnits(options);
  if (values["dry-run"]) {
    for (const name of UNIT_NAMES) console.log(`# ---- ${join(values["unit-dir"]!, name)}\n${units[name]}`);
  } else {
    mkdirSync(values["unit-dir"]!, { recursive: true });
    for (const name of UNIT_NAMES) {
      writeFileSync(join(values["unit-dir"]!, name), units[name], { mode: 0o644 });
      console.log(`wrote ${join(values["unit-dir"]!, name)}`);
    }
  }
  const nologin = "--system --no-create-home --shell /usr/sbin/nologin";
  console.log(`
# Remaining steps, as root:
id ${options.user} >/dev/null 2>&1 || useradd ${nologin} ${options.user}
# (the agent runs as root: it provisions the desktop users and runs xrdp for them)
# Secrets files are read by systemd as root: root:root, mode 0600.
install -d -m 0700 ${resolve(options.envFile, "..")} ${resolve(options.agentEnvFile, "..")}
# ${options.envFile}: ${SECRET_NAMES.map((n) => `${n}=…`).join(" ")}
# ${options.agentEnvFile}: the agent's secrets
systemctl daemon-reload
systemctl enable --now ${UNIT_NAMES.join(" ")}`);
  if (!values["no-doctor"]) {
    // The agent's own readiness check, as a process: the edge adapter does not load the capture addon.
    const args = [join(defaults.prefix, "pi-agent/bin/lucid-agent.ts"), "doctor", "--spool", options.agentDataDir];
    if (values.cert) args.push("--cert", resolve(values.cert), ...(values.hostname ? ["--hostname", values.hostname] : []));
    console.log("\n# Readiness (lucid-agent doctor): fix every FAIL before enabling the units");
    const doctor = spawnSync(process.execPath, args, { stdio: "inherit" });
    if (doctor.status !== 0) console.log("# lucid-agent doctor found problems (above); the units were written all the same");
  }
} catch (error) {
  console.error(`pi:install-units failed: ${error instanceof Error ? error.message : error}\n${USAGE}`);
  process.exit(2);
}
