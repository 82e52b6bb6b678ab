/**
 * Kernel-enforced desktop limits: each desktop's processes in their own cgroup v2 under the agent's
 * own cgroup, with `cpu.max`, `memory.max` (swap off) and `pids.max` from the desktop's limits, and
 * its user's disk by a filesystem quota where the home's filesystem has user quotas on.
 *
 * Layout, under the cgroup the agent runs in (its systemd service with Delegate=yes, or the root):
 *
 *   <agent cgroup>/agent/                  the agent itself (a cgroup with children holds no processes)
 *   <agent cgroup>/desktops/<serverId>/    one per desktop: xrdp's tree and every process of the user
 *
 * Where cgroup v2 cannot be written (no cgroup2 mount, a hybrid host whose cpu/memory/pids are on
 * v1, a container), `cgroupDelegation()` says why and nothing is enforced by the kernel: the control
 * plane's monitor (reports over a limit → warning → termination) is the only enforcement, as before.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import type { ServerLimits } from "../../../shared/rdp/protocol.ts";

export const CONTROLLERS = ["cpu", "memory", "pids"] as const;
/** Processes a desktop may run (not a control-plane limit yet: the same for every desktop). */
export const DESKTOP_PIDS_MAX = 1024;
const PERIOD_US = 100_000;

export interface CgroupDelegation {
  /** True when the agent can create child cgroups with cpu, memory and pids controllers. */
  delegated: boolean;
  /** The agent's own cgroup directory (under the cgroup2 mount), when there is one. */
  path: string | null;
  /** Why not, in one sentence (empty when delegated). */
  reason: string;
}

/** The cgroup2 mount point, from /proc/self/mountinfo, or null. */
function cgroup2Mount(): string | null {
  try {
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const [left, right] = line.split(" - ");
      if (right?.startsWith("cgroup2 ")) return left!.split(" ")[4] ?? null;
    }
  } catch {
    // not Linux
  }
  return null;
}

/** The directory of the cgroup `pid` is in (v2 hierarchy), or null. */
function cgroupOf(pid: number | "self", mount: string): string | null {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("0::"));
    return line ? join(mount, line.slice(3).trim()) : null;
  } catch {
    return null;
  }
}

const read = (file: string) => readFileSync(file, "utf8").trim();

/**
 * Whether cgroup v2 is delegated to this process: a cgroup2 mount, our cgroup writable, and the
 * cpu, memory and pids controllers available in it. (`lucid-agent doctor` shows this.)
 */
export function cgroupDelegation(): CgroupDelegation {
  const mount = cgroup2Mount();
  if (!mount) return { delegated: false, path: null, reason: "no cgroup2 file system is mounted" };
  const own = cgroupOf("self", mount);
  if (!own || !existsSync(own)) return { delegated: false, path: null, reason: "this process is in no cgroup of the cgroup2 hierarchy" };
  let available: string[];
  try {
    available = read(join(own, "cgroup.controllers")).split(/\s+/).filter(Boolean);
    accessSync(own, constants.W_OK);
    accessSync(join(own, "cgroup.subtree_control"), constants.W_OK);
  } catch (error) {
    return {
      delegated: false,
      path: own,
      reason: `cannot write ${own}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    };
  }
  const missing = CONTROLLERS.filter((c) => !available.includes(c));
  if (missing.length) {
    return {
      delegated: false,
      path: own,
      reason: `the ${missing.join(", ")} controller(s) are not available in ${own} (cgroup v1 holds them, or they were not delegated)`,
    };
  }
  return { delegated: true, path: own, reason: "" };
}

/** `cpu.max` for a share of the whole host: percent of all cores. */
export function cpuMax(cpuSharePercent: number, cores = cpus().length): string {
  const quota = Math.max(1000, Math.round((cpuSharePercent / 100) * cores * PERIOD_US));
  return `${quota} ${PERIOD_US}`;
}

/** The agent's cgroups: one per desktop, under its own. */
export class DesktopCgroups {
  private readonly desktops: string;

  private constructor(base: string) {
    this.desktops = join(base, "desktops");
  }

  /**
   * Prepares the layout (moving the agent into `agent/` when its cgroup is not the root, since a
   * cgroup with children may hold no processes); null with the reason when it cannot.
   */
  static open(log: (line: string) => void): DesktopCgroups | null {
    const d = cgroupDelegation();
    if (!d.delegated) {
      log(`desktop limits: not enforced by the kernel (${d.reason}); the control plane's monitor enforces them from reports`);
      return null;
    }
    const base = d.path!;
    try {
      const procs = read(join(base, "cgroup.procs")).split("\n").filter(Boolean);
      const isRoot = !existsSync(join(base, "cgroup.type")); // the root cgroup has no cgroup.type
      if (!isRoot && procs.length) {
        mkdirSync(join(base, "agent"), { recursive: true });
        for (const pid of procs) {
          try {
            writeFileSync(join(base, "agent", "cgroup.procs"), pid);
          } catch {
            // exited meanwhile
          }
        }
      }
      const controls = CONTROLLERS.map((c) => `+${c}`).join(" ");
      writeFileSync(join(base, "cgroup.subtree_control"), controls);
      mkdirSync(join(base, "desktops"), { recursive: true });
      writeFileSync(join(base, "desktops", "cgroup.subtree_control"), controls);
    } catch (error) {
      log(`desktop limits: not enforced by the kernel (cannot set up ${base}: ${(error as Error).message})`);
      return null;
    }
    log(`desktop limits: enforced by cgroup v2 under ${join(base, "desktops")} (cpu.max, memory.max, pids.max)`);
    return new DesktopCgroups(base);
  }

  /** Where the desktop's cgroup is. */
  pathOf(serverId: string): string {
    return join(this.desktops, serverId.replace(/[^A-Za-z0-9_-]/g, "_"));
  }

  /** Creates (or updates) the desktop's cgroup with its limits. */
  apply(serverId: string, limits: ServerLimits): void {
    const dir = this.pathOf(serverId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "cpu.max"), cpuMax(limits.cpuSharePercent));
    writeFileSync(join(dir, "memory.max"), String(limits.memoryMb * 2 ** 20));
    if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
    writeFileSync(join(dir, "pids.max"), String(DESKTOP_PIDS_MAX));
  }

  /** Moves processes into the desktop's cgroup (their later children stay there); returns how many moved. */
  adopt(serverId: string, pids: number[]): number {
    const procs = join(this.pathOf(serverId), "cgroup.procs");
    let moved = 0;
    const inside = new Set(this.members(serverId));
    for (const pid of pids) {
      if (inside.has(pid)) continue;
      try {
        writeFileSync(procs, String(pid));
        moved++;
      } catch {
        // exited meanwhile, or a kernel thread
      }
    }
    return moved;
  }

  members(serverId: string): number[] {
    try {
      return read(join(this.pathOf(serverId), "cgroup.procs"))
        .split("\n")
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  /** Counters the kernel keeps: memory OOM kills and CPU throttling. */
  stats(serverId: string): { oomKills: number; nrThrottled: number } {
    const dir = this.pathOf(serverId);
    const field = (file: string, name: string) => {
      try {
        return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(read(join(dir, file)))?.[1] ?? 0);
      } catch {
        return 0;
      }
    };
    return { oomKills: field("memory.events", "oom_kill"), nrThrottled: field("cpu.stat", "nr_throttled") };
  }

  /** Kills what is left and removes the cgroup (a desktop stopped). */
  async remove(serverId: string): Promise<void> {
    const dir = this.pathOf(serverId);
    if (!existsSync(dir)) return;
    try {
      if (existsSync(join(dir, "cgroup.kill"))) writeFileSync(join(dir, "cgroup.kill"), "1");
      for (let i = 0; i < 50 && this.members(serverId).length; i++) await sleep(100);
      rmdirSync(dir);
    } catch {
      // processes still exiting: the next start of this id reuses it
    }
  }

  /** Desktop cgroups left by an earlier run. */
  leftovers(): string[] {
    try {
      return readdirSync(this.desktops, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return [];
    }
  }
}

/**
 * The user's disk limit by a filesystem quota: only where the home's file system is mounted with
 * user quotas and `setquota` exists. Returns whether it is enforced (false: the monitor's reports
 * are the only enforcement).
 */
export function applyDiskQuota(user: string, home: string, diskMb: number): { enforced: boolean; reason: string } {
  let mount: { point: string; options: string } | null = null;
  try {
    for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
      const [, point, , options] = line.split(" ");
      if (
        point &&
        options &&
        (home === point || home.startsWith(point.endsWith("/") ? point : point + "/")) &&
        (!mount || point.length > mount.point.length)
      ) {
        mount = { point, options };
      }
    }
  } catch {
    return { enforced: false, reason: "no /proc/self/mounts" };
  }
  if (!mount || !/(^|,)(usrquota|uquota|usrjquota=[^,]+|quota)(,|$)/.test(mount.options)) {
    return { enforced: false, reason: `${mount?.point ?? home} is not mounted with user quotas` };
  }
  const kb = diskMb * 1024;
  try {
    execFileSync("setquota", ["-u", user, String(kb), String(kb), "0", "0", mount.point], { stdio: "ignore" });
    return { enforced: true, reason: "" };
  } catch (error) {
    return { enforced: false, reason: `setquota failed: ${(error as Error).message}` };
  }
}
