// Kernel-enforced desktop limits on a real cgroup v2 (root, with cpu, memory and pids delegated to
// this process): a desktop process over its memory limit is killed by the kernel, and a busy one is
// throttled (cpu.stat nr_throttled; no timing). Where cgroup v2 cannot be written (a container, a
// hybrid host whose controllers are on v1), scripts/system-tools.ts leaves this file out and says so;
// the control plane's report-based enforcement is then the only one.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { afterAll, describe, expect, it, vi } from "vitest";
import { DesktopCgroups } from "../../pi-agent/lib/xrdp/cgroups.ts";

const lines: string[] = [];
const cgroups = DesktopCgroups.open((line) => lines.push(line));
const children: ChildProcess[] = [];
const ids: string[] = [];
const limits = (over: { cpuSharePercent?: number; memoryMb?: number }) => ({
  cpuSharePercent: over.cpuSharePercent ?? 50,
  memoryMb: over.memoryMb ?? 512,
  diskMb: 100,
  bandwidthKbps: 1000,
  sessionTtlSeconds: 600,
});

/** A process that waits for a line on stdin (so it is in its cgroup first), then runs `program`. */
function waiting(program: string): ChildProcess {
  const child = spawn("python3", ["-c", `import sys\nsys.stdin.readline()\n${program}`], { stdio: ["pipe", "ignore", "ignore"] });
  children.push(child);
  return child;
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const id of ids) await cgroups?.remove(id);
});

describe("desktop cgroups", () => {
  it("are set up under the agent's own cgroup", () => {
    expect(cgroups, lines.join("\n")).not.toBeNull();
    expect(lines.join("\n")).toMatch(/enforced by cgroup v2/);
  });

  it("has the kernel kill a desktop process over its memory limit", async () => {
    const id = `test-memory-${process.pid}`;
    ids.push(id);
    cgroups!.apply(id, limits({ memoryMb: 48 }));
    const child = waiting("a = []\nwhile True:\n    a.append(b'\\x01' * (8 << 20))");
    expect(cgroups!.adopt(id, [child.pid!])).toBe(1);
    expect(cgroups!.members(id)).toContain(child.pid);
    child.stdin!.write("go\n");
    const [, signal] = await once(child, "exit");
    expect(signal).toBe("SIGKILL");
    expect(cgroups!.stats(id).oomKills).toBeGreaterThan(0);
  });

  it("throttles a busy desktop process to its CPU share", async () => {
    const id = `test-cpu-${process.pid}`;
    ids.push(id);
    cgroups!.apply(id, limits({ cpuSharePercent: 1 }));
    const child = waiting("while True:\n    pass");
    cgroups!.adopt(id, [child.pid!]);
    child.stdin!.write("go\n");
    await vi.waitFor(() => expect(cgroups!.stats(id).nrThrottled).toBeGreaterThan(0), { timeout: 30_000, interval: 100 });
    child.kill("SIGKILL");
  });
});
