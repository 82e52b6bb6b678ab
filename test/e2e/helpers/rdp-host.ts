// What the desktop end-to-end tests (agent-rdp, agent-rdp-migrate) share: a workerd whose RDP port
// pool is the ports the test picked, and the clean-up of every process the agents started.
import type { ChildProcess } from "node:child_process";
import { freePort, startWorkerd, waitForWorkerd, type WorkerdProcess } from "../../../edge-adapter/workerd-process.ts";
import { processTree } from "../../../pi-agent/lib/node/proc-stats.ts";
import { buildOnLoopback } from "./self-hosted.ts";

export interface RdpWorkerd {
  base: string;
  configPath: string;
  workerd: WorkerdProcess;
}

/**
 * Builds and starts workerd on a free loopback port for a small test machine, with the RDP ports
 * `rdpPorts` (first, last) allocatable, agent reports every `reportSeconds` and keep-alives every 5 s.
 */
export async function startRdpWorkerd(
  work: string,
  secrets: Record<string, string>,
  rdpPorts: [number, number],
  reportSeconds: number,
): Promise<RdpWorkerd> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { configPath } = buildOnLoopback(work, port, {
    vars: {
      NODE_MIN_CPU_CORES: "1",
      NODE_MIN_MEMORY_MB: "256",
      NODE_MIN_DISK_GB: "1",
      RDP_PORT_MIN: String(rdpPorts[0]),
      RDP_PORT_MAX: String(rdpPorts[1]),
      RDP_REPORT_SECONDS: String(reportSeconds),
      RDP_KEEPALIVE_SECONDS: "5",
    },
  });
  const workerd = startWorkerd(configPath, { env: secrets });
  await waitForWorkerd(workerd, `${base}/health`, 30_000);
  return { base, configPath, workerd };
}

/**
 * Kills what is still running of `children` and everything they started (xrdp, sesman…), children
 * last: a sesman left behind would hold xrdp's one sesman port for the next test.
 */
export function killProcessTrees(children: ChildProcess[]): void {
  const stray = children.filter((c) => c.exitCode === null).flatMap((c) => processTree([c.pid!]));
  for (const p of stray.reverse()) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
