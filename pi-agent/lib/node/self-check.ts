import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { Report } from "../../../shared/nodes/protocol.ts";
import { captureAvailable } from "../native.ts";

/**
 * What the agent reports about its own services in each heartbeat (`report.services`): the
 * server derives the recorder / chunk processor / XRDP health of GET /api/v1/system/services from
 * the share of online nodes that say healthy.
 *   recorder:       the native capture addon loads;
 *   chunkProcessor: the spool directory (where chunks are sealed before upload) is writable;
 *   xrdp:           xrdp is installed and no desktop server has failed.
 */
export function agentServices(manager: { list(): { state: string }[] }, spoolDir: string): NonNullable<Report["services"]> {
  return {
    recorder: captureAvailable(),
    chunkProcessor: writable(spoolDir),
    xrdp: onPath("xrdp") && manager.list().every((s) => s.state !== "failed"),
  };
}

function writable(dir: string): boolean {
  try {
    accessSync(existsSync(dir) ? dir : join(dir, ".."), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): boolean {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat("/usr/sbin", "/sbin");
  return dirs.some((dir) => existsSync(join(dir, command)));
}
