/**
 * Boots a Debian kernel under qemu (TCG: no KVM here) with a busybox initramfs that loads the
 * `vivid` virtual V4L2 driver and runs pi-agent's statically linked V4L2 probe
 * (pi-agent/src/test/v4l2_probe.cc, built from the addon's own capture sources) against /dev/video0.
 * Facts: ../shared/reference/pi-agent.md, "V4L2". The kernel .deb comes from the Debian registry
 * through `apt-get download` and is cached under .cache/vivid/ (gitignored).
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { which } from "../../../scripts/system-tools.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
export const CACHE = join(ROOT, ".cache/vivid");
const AGENT = join(ROOT, "pi-agent");

function run(file: string, args: string[], cwd?: string): string {
  return execFileSync(which(file) ?? file, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The Debian kernel image package linux-image-amd64 points at (e.g. linux-image-6.1.0-56-amd64). */
function kernelPackage(): string {
  const deps = run("apt-cache", ["depends", "linux-image-amd64"]);
  const name = /Depends: (linux-image-[0-9][^\s]*-amd64)\b/.exec(deps)?.[1];
  if (!name) throw new Error(`apt-cache knows no linux-image-amd64 (run apt-get update): ${deps}`);
  return name;
}

/** Downloads (once) and unpacks the kernel package; returns the unpacked root and kernel version. */
function kernelTree(): { tree: string; version: string } {
  mkdirSync(CACHE, { recursive: true });
  const pkg = kernelPackage();
  const tree = join(CACHE, pkg);
  if (!existsSync(join(tree, ".unpacked"))) {
    if (!readdirSync(CACHE).some((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"))) run("apt-get", ["download", pkg], CACHE);
    const deb = readdirSync(CACHE).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"))!;
    rmSync(tree, { recursive: true, force: true });
    run("dpkg-deb", ["-x", join(CACHE, deb), tree]);
    writeFileSync(join(tree, ".unpacked"), "");
  }
  const version = readdirSync(join(tree, "lib/modules"))[0]!;
  return { tree, version };
}

/** The probe, linked statically from the same capture sources as the addon. */
function buildProbe(out: string): void {
  run("g++", [
    "-static",
    "-O2",
    "-std=c++17",
    "-o",
    out,
    join(AGENT, "src/test/v4l2_probe.cc"),
    join(AGENT, "src/v4l2_capture.cc"),
    join(AGENT, "src/v4l2_io.cc"),
    "-ljpeg",
  ]);
}

/** Builds vmlinuz + initrd.gz in a fresh directory: busybox, the probe, vivid and its dependencies. */
export function buildVm(workDir: string): { kernel: string; initrd: string } {
  const { tree, version } = kernelTree();
  run("depmod", ["-b", tree, version]);
  // insmod order, dependencies first, as kmod's modprobe resolves it.
  const modules = run("modprobe", ["-d", tree, "-S", version, "--show-depends", "vivid"])
    .split("\n")
    .map((line) => /^insmod (\S+)/.exec(line.trim())?.[1])
    .filter((m): m is string => Boolean(m));
  if (!modules.at(-1)?.endsWith("/vivid.ko")) throw new Error(`vivid.ko not found in ${tree}`);

  const root = join(workDir, "initramfs");
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "modules"), { recursive: true });
  copyFileSync(which("busybox")!, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  buildProbe(join(root, "v4l2_probe"));
  const names = modules.map((m, i) => {
    const name = `${String(i).padStart(2, "0")}-${m.split("/").at(-1)}`;
    copyFileSync(m, join(root, "modules", name));
    return name;
  });
  const init = [
    "#!/bin/busybox sh",
    "B=/bin/busybox",
    "$B mkdir -p /proc /sys /dev",
    "$B mount -t proc proc /proc",
    "$B mount -t sysfs sysfs /sys",
    "$B mount -t devtmpfs devtmpfs /dev",
    ...names.map((n) =>
      n.endsWith("-vivid.ko")
        ? `$B insmod /modules/${n} n_devs=1 node_types=0x1 || echo "PROBE-FAIL insmod ${n}"`
        : `$B insmod /modules/${n} || echo "PROBE-FAIL insmod ${n}"`,
    ),
    "i=0; while [ ! -e /dev/video0 ] && [ $i -lt 50 ]; do $B sleep 0.1; i=$((i+1)); done",
    "/v4l2_probe /dev/video0",
    "$B poweroff -f",
  ].join("\n");
  writeFileSync(join(root, "init"), init + "\n", { mode: 0o755 });
  const initrd = join(workDir, "initrd.gz");
  execFileSync("sh", ["-c", `find . | cpio -o -H newc --quiet | gzip -1 > '${initrd}'`], { cwd: root });
  return { kernel: join(tree, `boot/vmlinuz-${version}`), initrd };
}

export interface ProbeStep {
  step: string;
  [field: string]: unknown;
}

/** Boots the VM and returns the probe's steps (and the console text, for failure messages). */
export function bootVm(vm: { kernel: string; initrd: string }, timeoutMs = 240_000): Promise<{ steps: ProbeStep[]; console: string }> {
  return new Promise((resolvePromise, reject) => {
    const qemu = spawn(
      which("qemu-system-x86_64") ?? "qemu-system-x86_64",
      [
        "-accel",
        "tcg",
        "-m",
        "1024",
        "-kernel",
        vm.kernel,
        "-initrd",
        vm.initrd,
        "-append",
        "console=ttyS0 panic=-1 quiet loglevel=3",
        "-nographic",
        "-no-reboot",
        "-nodefaults",
        "-serial",
        "stdio",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let text = "";
    qemu.stdout.on("data", (d: Buffer) => (text += d.toString("latin1")));
    qemu.stderr.on("data", (d: Buffer) => (text += d.toString("latin1")));
    const timer = setTimeout(() => qemu.kill("SIGKILL"), timeoutMs);
    qemu.on("error", reject);
    qemu.on("exit", () => {
      clearTimeout(timer);
      const steps = text
        .split(/\r?\n/)
        .map((line) => /PROBE (\{.*\})\s*$/.exec(line)?.[1])
        .filter((json): json is string => Boolean(json))
        .map((json) => JSON.parse(json) as ProbeStep);
      resolvePromise({ steps, console: text });
    });
  });
}
