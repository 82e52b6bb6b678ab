// npm install hook of the agent workspace: builds the native addon with node-gyp (offline, against
// the machine's Node headers). Where its build dependencies are missing, a developer's `npm ci`
// still succeeds with a clear warning (the Worker does not need the addon); CI, or
// LUCID_REQUIRE_AGENT_ADDON=1, makes a failed build an error so it can never go unnoticed.
import { spawnSync } from "node:child_process";

const run = spawnSync("node-gyp", ["rebuild"], { stdio: "inherit", shell: process.platform === "win32" });
if (run.status === 0) process.exit(0);
const required = process.env.CI === "true" || process.env.LUCID_REQUIRE_AGENT_ADDON === "1";
console.error(
  `\nlucid-agent: the native capture addon did not build (node-gyp exit ${run.status}).\n` +
    "  Install its build dependencies (Debian: apt-get install g++ make python3 libx11-dev libxext-dev libxdamage-dev libxfixes-dev libxi-dev libxkbcommon-dev libjpeg62-turbo-dev),\n" +
    "  then run: npm rebuild lucid-agent\n" +
    (required ? "" : "  Continuing without it: the Worker, npm start and the non-agent tests do not need it.\n"),
);
process.exit(required ? 1 : 0);
