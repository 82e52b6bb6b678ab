/**
 * The one place that knows which system tools each test file needs, probes for them, and says what
 * is missing. vitest.config.ts excludes the files whose tools are missing and prints one summary at
 * the end of the run (SkipSummary); under CI=true a missing tool fails the run instead: nothing is
 * skipped. `node scripts/system-tools.ts --check` (the first step of `npm test`) fails that fast.
 * Every tool comes from a Debian package in scripts/system-packages.txt (`sudo npm run setup:system`).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Reporter, TestModule, Vitest } from "vitest/node";
import { cgroupDelegation } from "../pi-agent/lib/xrdp/cgroups.ts";

const ROOT = resolve(import.meta.dirname, "..");
export const INSTALL_COMMAND = "sudo npm run setup:system";

interface Tool {
  /** What it is, as the summary names it. */
  label: string;
  /** The Debian package it comes from (listed in scripts/system-packages.txt), if any. */
  pkg?: string;
  /** How to get it when the package alone does not do it. */
  install?: string;
  present(): boolean;
  /**
   * A property of the host (cgroup delegation), not something a package installs: its tests are
   * skipped with the summary even under CI=true, because no CI step can provide it.
   */
  capability?: true;
}

/** Where `command` is on PATH or in the sbin directories, or null. */
export function which(command: string): string | null {
  const dirs = (process.env.PATH ?? "").split(":").concat("/usr/sbin", "/sbin");
  return dirs.map((dir) => join(dir, command)).find((path) => existsSync(path)) ?? null;
}

const commands = (pkg: string, ...names: string[]): Tool => ({
  label: `${names.join(", ")} (${pkg})`,
  pkg,
  present: () => names.every((name) => which(name) !== null),
});

export const TOOLS = {
  addon: {
    label: "the agent's native addon (pi-agent/build/Release)",
    install: `${INSTALL_COMMAND}, then npm rebuild lucid-agent`,
    present: () => ["lucid_capture.node", "lucid_test_support.node"].every((f) => existsSync(join(ROOT, "pi-agent/build/Release", f))),
  },
  root: {
    label: "root (the test creates desktop session users)",
    install: "run the suite as root (CI does)",
    present: () => process.getuid?.() === 0,
  },
  xvfb: commands("xvfb", "Xvfb"),
  xrdp: commands("xrdp", "xrdp", "xrdp-sesman"),
  xorgxrdp: {
    label: "xorgxrdp (Xorg's xrdp driver)",
    pkg: "xorgxrdp",
    present: () => existsSync("/usr/lib/xorg/modules/libxorgxrdp.so") && which("Xorg") !== null,
  },
  xvnc: commands("tigervnc-standalone-server", "Xvnc"),
  xfreerdp: commands("freerdp2-x11", "xfreerdp"),
  xserverUtils: commands("x11-xserver-utils", "xsetroot"),
  xauth: commands("xauth", "xauth"),
  xterm: commands("xterm", "xterm"),
  xdotool: commands("xdotool", "xdotool"),
  xclip: commands("xclip", "xclip"),
  x11Utils: commands("x11-utils", "xmessage", "xwininfo", "xkill"),
  qemu: commands("qemu-system-x86", "qemu-system-x86_64"),
  qemuUser: {
    label: "qemu-aarch64 (qemu-user) and an arm64 glibc (libc6-arm64-cross)",
    pkg: "qemu-user",
    install: "apt-get install qemu-user libc6-arm64-cross",
    present: () => which("qemu-aarch64") !== null && existsSync("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"),
  },
  busybox: commands("busybox-static", "busybox"),
  cpio: commands("cpio", "cpio"),
  kmod: commands("kmod", "modprobe", "depmod"),
  gxx: commands("g++", "g++"),
  apt: {
    label: "apt-get, apt-cache, dpkg-deb (Debian's package tools)",
    install: "a Debian system",
    present: () => ["apt-get", "apt-cache", "dpkg-deb"].every((c) => which(c)),
  },
  cgroup2: {
    label: "cgroup v2 with the cpu, memory and pids controllers delegated to this process",
    install:
      "run as root on a host with the unified cgroup hierarchy (or a systemd unit with Delegate=yes); not inside a container whose cgroups are read-only or on v1",
    present: () => cgroupDelegation().delegated,
    capability: true,
  },
  chromium: { label: "chromium (/usr/bin/chromium)", pkg: "chromium", present: () => existsSync("/usr/bin/chromium") },
  promtool: commands("prometheus", "promtool"),
  systemNode: {
    label: "a Node ≥ 20 outside the repository (/usr/bin/node, or LUCID_SYSTEM_NODE): the standalone verifier runs on it",
    install: "install Node ≥ 20 as /usr/bin/node, or set LUCID_SYSTEM_NODE to one",
    present: () => existsSync(process.env.LUCID_SYSTEM_NODE ?? "/usr/bin/node"),
  },
} satisfies Record<string, Tool>;
export type ToolName = keyof typeof TOOLS;

const X_DESKTOP: ToolName[] = ["xvfb", "xrdp", "xorgxrdp", "xfreerdp", "xauth", "xterm", "xserverUtils", "x11Utils"];

/** Each test file (and bench) that needs a system tool, its vitest project ("bench": bench/run.mjs), and the tools. */
export const NEEDS: { file: string; project: string; tools: ToolName[] }[] = [
  { file: "test/node/agent-capture.test.ts", project: "agent", tools: ["addon", "xvfb"] },
  { file: "test/node/agent-damage.test.ts", project: "agent", tools: ["addon", "xvfb"] },
  { file: "test/node/agent-cursor.test.ts", project: "agent", tools: ["addon", "xvfb"] },
  { file: "test/node/agent-doctor.test.ts", project: "agent", tools: ["addon"] },
  { file: "test/node/agent-recorder-chunks.test.ts", project: "agent", tools: ["addon", "xvfb"] },
  { file: "test/node/agent-record.test.ts", project: "agent", tools: ["addon", "xvfb"] },
  { file: "test/node/agent-interaction.test.ts", project: "agent", tools: ["addon", "xvfb", "xterm", "xdotool", "xclip"] },
  { file: "test/node/agent-v4l2.test.ts", project: "agent", tools: ["addon"] },
  { file: "test/node/agent-notify.test.ts", project: "agent", tools: ["addon", "xvfb", "x11Utils"] },
  { file: "test/node/agent-xrdp.test.ts", project: "agent", tools: ["root", "addon", ...X_DESKTOP, "xvnc", "xdotool"] },
  { file: "test/node/agent-v4l2-vivid.test.ts", project: "agent", tools: ["qemu", "busybox", "cpio", "kmod", "gxx", "apt"] },
  { file: "test/e2e/whole-flow.test.ts", project: "agent", tools: ["addon", "xvfb"] },
  { file: "test/node/agent-cgroups.test.ts", project: "agent", tools: ["root", "cgroup2"] },
  { file: "test/e2e/agent-rdp.test.ts", project: "e2e", tools: ["root", "addon", ...X_DESKTOP] },
  { file: "test/e2e/agent-rdp-migrate.test.ts", project: "e2e", tools: ["root", "addon", ...X_DESKTOP] },
  { file: "test/e2e/interaction-search.test.ts", project: "e2e", tools: ["addon", "xvfb", "xterm", "xdotool"] },
  { file: "test/e2e/dashboard.test.ts", project: "e2e", tools: ["chromium"] },
  { file: "test/e2e/dashboard-pages.test.ts", project: "e2e", tools: ["chromium"] },
  { file: "test/e2e/dashboard-interaction.test.ts", project: "e2e", tools: ["chromium"] },
  { file: "test/e2e/package-verify.test.ts", project: "e2e", tools: ["chromium", "systemNode"] },
  { file: "test/e2e/workerd-arm64.test.ts", project: "arm64", tools: ["qemuUser"] },
  { file: "test/node/prometheus-docs.test.ts", project: "node", tools: ["promtool"] },
  { file: "bench/agent-capture.mjs", project: "bench", tools: ["addon", "xvfb"] },
  { file: "bench/agent-recording-size.mjs", project: "bench", tools: ["addon", "xvfb"] },
  { file: "bench/agent-cpu.mjs", project: "bench", tools: ["addon", "xvfb"] },
];

export interface Skip {
  file: string;
  project: string;
  missing: ToolName[];
}

/** The test files (or, for "bench", the benches) whose tools are missing on this machine, with the missing tools. */
export function missingTools(scope: "test" | "bench" = "test"): Skip[] {
  const absent = new Set((Object.keys(TOOLS) as ToolName[]).filter((name) => !TOOLS[name].present()));
  return NEEDS.filter((n) => (n.project === "bench") === (scope === "bench"))
    .map((n) => ({ file: n.file, project: n.project, missing: n.tools.filter((t) => absent.has(t)) }))
    .filter((s) => s.missing.length > 0);
}

/** The lines naming what is skipped (or, under CI, what fails the run), why, and how to install it. */
export function describeSkips(skips: Skip[]): string[] {
  const lines = skips.map((s) => `  ${s.file}: missing ${s.missing.map((t) => TOOLS[t].label).join("; ")}`);
  const ways = new Set<string>();
  for (const s of skips) for (const t of s.missing) ways.add((TOOLS[t] as Tool).install ?? INSTALL_COMMAND);
  return [...lines, `Install them with: ${[...ways].join("; ")}`];
}

/** The skips CI may not accept: those missing something an install step could provide. */
export function ciBlocking(skips: Skip[]): Skip[] {
  return skips.filter((s) => s.missing.some((t) => !(TOOLS[t] as Tool).capability));
}

/** Under CI=true a missing tool is an error: this is its message. */
export function ciFailure(skips: Skip[]): string {
  return [
    `CI=true and ${skips.length} file(s) need system tools that are missing (nothing is skipped under CI):`,
    ...describeSkips(skips),
  ].join("\n");
}

/** A vitest reporter printing, after the run, the test files left out for missing tools (those of the projects that ran). */
export class SkipSummary implements Reporter {
  private projects = new Set<string>();
  private readonly skips: Skip[];
  constructor(skips: Skip[]) {
    this.skips = skips;
  }
  onInit(vitest: Vitest): void {
    this.projects = new Set(vitest.projects.map((p) => p.name));
  }
  onTestRunEnd(_modules: ReadonlyArray<TestModule>): void {
    const skips = this.skips.filter((s) => this.projects.has(s.project));
    if (skips.length === 0) return;
    const text = [
      `\nSkipped ${skips.length} test file(s): system tools they need are missing on this machine.`,
      ...describeSkips(skips),
      "",
    ];
    process.stdout.write(text.join("\n") + "\n");
  }
}

// `node scripts/system-tools.ts --check`: under CI=true, fail before anything slow runs.
if (import.meta.filename === process.argv[1] && process.argv.includes("--check")) {
  const skips = missingTools();
  if (ciBlocking(skips).length > 0 && process.env.CI === "true") {
    console.error(ciFailure(ciBlocking(skips)));
    process.exit(1);
  }
  if (skips.length > 0) console.log(`note: ${skips.length} test file(s) will be skipped for missing system tools (summary at the end)`);
}
