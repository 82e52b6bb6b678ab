/**
 * Resource use read from /proc (Linux): the whole host for heartbeats, and sets of processes for
 * the per-server reports of the RDP channel. Rates are deltas between two samples.
 */
import { readFileSync, readdirSync, statfsSync } from "node:fs";

const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux architecture the agent targets (x86-64, arm64)

/** Total and idle jiffies of all CPUs since boot (first line of /proc/stat). */
export function cpuJiffies(): { total: number; idle: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest is already in user
  return { total, idle: fields[3]! + (fields[4] ?? 0) };
}

export function memoryUse(): { totalMb: number; usedMb: number } {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  const total = kb("MemTotal");
  return { totalMb: Math.round(total / 1024), usedMb: Math.round((total - kb("MemAvailable")) / 1024) };
}

export function diskUse(path: string): { totalMb: number; usedPercent: number } {
  const s = statfsSync(path);
  const total = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  return { totalMb: Math.round(total / 2 ** 20), usedPercent: total > 0 ? Math.round((used / total) * 100) : 0 };
}

/** Bytes received and sent by every interface but loopback (/proc/net/dev). */
export function networkBytes(): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of readFileSync("/proc/net/dev", "utf8").split("\n").slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === "lo") continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    rx += f[0]!;
    tx += f[8]!;
  }
  return { rx, tx };
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  /** user + system CPU time, in seconds */
  cpuSeconds: number;
  rssMb: number;
  command: string;
  args: string[];
}

/** One process from /proc/<pid>, or null when it is gone (or unreadable). */
export function processInfo(pid: number): ProcessInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")"); // the command may itself contain spaces or ")"
    const fields = stat.slice(close + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return {
      pid,
      ppid: Number(fields[1]),
      uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1),
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
      rssMb: Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024),
      command: stat.slice(stat.indexOf("(") + 1, close),
      args,
    };
  } catch {
    return null;
  }
}

export function allProcesses(): ProcessInfo[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => processInfo(Number(name)))
    .filter((p): p is ProcessInfo => p !== null);
}

/** `roots` and every descendant of them. */
export function processTree(roots: number[], processes = allProcesses()): ProcessInfo[] {
  const wanted = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of processes) if (!wanted.has(p.pid) && wanted.has(p.ppid)) (wanted.add(p.pid), (grew = true));
  }
  return processes.filter((p) => wanted.has(p.pid));
}

/** Whole-percent CPU use between two readings of the same processes' CPU seconds, of all cores. */
export function cpuPercentOfHost(cpuSecondsDelta: number, wallSeconds: number, cores: number): number {
  if (wallSeconds <= 0) return 0;
  return Math.max(0, Math.min(100, Math.round((cpuSecondsDelta / (wallSeconds * cores)) * 100)));
}
