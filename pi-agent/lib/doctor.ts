/**
 * Pi 5 readiness: the things that break an install, checked before they do. Every check reads the
 * machine through `DoctorHost` (injected in tests: a fixture /proc, a fake page size) and returns a
 * verdict with the fix to apply when it fails.
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";

export interface DoctorHost {
  arch: string;
  nodeVersion: string;
  /** a file under / (tests point this at a fixture tree), or null when missing */
  readFile(path: string): string | null;
  /** bytes of a memory page (`getconf PAGESIZE`) */
  pageSize(): number;
  /** free bytes for unprivileged writers on the file system holding `dir`, or null if it does not exist */
  freeBytes(dir: string): number | null;
  /** runs a command; null when it is not installed */
  run(command: string, args: string[]): { code: number; stdout: string } | null;
  /** the capture addon: null when it loads, else why not */
  addonError(): string | null;
  /** MIT-SHM and DAMAGE on a test X display, or why it could not be opened */
  probeDisplay(): { shm: boolean; damage: boolean; note: string } | { error: string };
}

export interface DoctorOptions {
  spoolDir: string;
  /** bytes of spool the node should be able to hold (default 2 GiB: two sessions at the default quota) */
  spoolBytes?: number;
  certFile?: string;
  hostname?: string;
}

export interface Verdict {
  check: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  /** what to do, when status is not ok */
  fix?: string;
}

const ok = (check: string, detail: string): Verdict => ({ check, status: "ok", detail });
const bad = (check: string, status: "warn" | "fail", detail: string, fix: string): Verdict => ({ check, status, detail, fix });

export function checkArchitecture(host: DoctorHost): Verdict[] {
  const out: Verdict[] = [];
  if (host.arch === "arm64" || host.arch === "x64") out.push(ok("architecture", host.arch));
  else
    out.push(
      bad("architecture", "fail", host.arch, "Lucid's workerd and agent run on 64-bit Linux only: install Raspberry Pi OS (64-bit)"),
    );
  const page = host.pageSize();
  if (page === 4096) out.push(ok("page size", "4K"));
  else {
    out.push(
      bad(
        "page size",
        "fail",
        `${page / 1024}K pages (the Pi 5's default kernel_2712.img)`,
        "workerd needs 4K pages: add `kernel=kernel8.img` to /boot/firmware/config.txt and reboot",
      ),
    );
  }
  return out;
}

/** Virtual address bits in use, from the highest mapping of this process (/proc/self/maps). */
export function checkAddressBits(host: DoctorHost): Verdict {
  const maps = host.readFile("/proc/self/maps");
  if (!maps) return bad("virtual address bits", "warn", "cannot read /proc/self/maps", "run the doctor on the Pi itself (Linux /proc)");
  let top = 0n;
  for (const line of maps.split("\n")) {
    const end = /^[0-9a-f]+-([0-9a-f]+) /.exec(line)?.[1];
    // x86's [vsyscall] page sits at the top of the kernel's half: not user address space.
    if (end && !line.includes("[vsyscall]") && BigInt(`0x${end}`) > top) top = BigInt(`0x${end}`);
  }
  const bits = top.toString(2).length;
  if (bits >= 47) return ok("virtual address bits", `${bits} (workerd's allocator needs 47 or more)`);
  return bad(
    "virtual address bits",
    "fail",
    `${bits}: the kernel gives user space a ${bits}-bit address space`,
    "workerd reserves large virtual ranges and needs a 48-bit VA kernel (CONFIG_ARM64_VA_BITS_48, as Raspberry Pi OS's kernel8.img): boot that kernel",
  );
}

export function checkNode(host: DoctorHost): Verdict {
  const [major = 0, minor = 0] = host.nodeVersion.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 15)) return ok("node", host.nodeVersion);
  return bad(
    "node",
    "fail",
    host.nodeVersion,
    "the agent needs Node ≥ 22.15 (built-in zstd, type stripping): install Node 22 LTS from nodejs.org or NodeSource",
  );
}

export function checkCapture(host: DoctorHost): Verdict[] {
  const error = host.addonError();
  if (error)
    return [
      bad(
        "capture addon",
        "fail",
        error.split("\n")[0]!,
        "install g++ make python3 libx11-dev libxext-dev libxdamage-dev libxfixes-dev libxi-dev libxkbcommon-dev libjpeg62-turbo-dev, then `npm rebuild lucid-agent`",
      ),
    ];
  const out = [ok("capture addon", "loads")];
  const probe = host.probeDisplay();
  if ("error" in probe)
    return [...out, bad("test display", "warn", probe.error, "install xvfb (apt-get install xvfb) so MIT-SHM and DAMAGE can be checked")];
  out.push(
    probe.shm
      ? ok("MIT-SHM", "on")
      : bad(
          "MIT-SHM",
          "fail",
          probe.note,
          "enable the MIT-SHM extension in the X server (xorgxrdp has it); without it capture is ~20x slower",
        ),
  );
  out.push(
    probe.damage
      ? ok("DAMAGE", "on")
      : bad(
          "DAMAGE",
          "fail",
          probe.note,
          "enable the DAMAGE and XFIXES extensions in the X server; without them every frame is grabbed whole",
        ),
  );
  return out;
}

export function checkXrdp(host: DoctorHost): Verdict[] {
  const out: Verdict[] = [];
  for (const pkg of ["xrdp", "xorgxrdp"]) {
    const q = host.run("dpkg-query", ["-W", "-f=${Version}", pkg]);
    const version = q && q.code === 0 ? q.stdout.trim() : "";
    if (!version) out.push(bad(pkg, "fail", "not installed", `apt-get install ${pkg}`));
    else if (
      pkg === "xrdp" &&
      Number(version.split(":").at(-1)!.split(".")[0]) === 0 &&
      Number(version.split(":").at(-1)!.split(".")[1]) < 9
    ) {
      out.push(bad(pkg, "fail", version, "xrdp ≥ 0.9 is needed (Debian 12 ships 0.9.21): upgrade the OS"));
    } else out.push(ok(pkg, version));
  }
  return out;
}

export function checkCgroup(host: DoctorHost): Verdict {
  const controllers = host.readFile("/sys/fs/cgroup/cgroup.controllers");
  if (controllers === null) {
    return bad(
      "cgroup v2",
      "fail",
      "no unified cgroup hierarchy",
      "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1 in /boot/firmware/cmdline.txt)",
    );
  }
  const self = /^0::(.*)$/m.exec(host.readFile("/proc/self/cgroup") ?? "")?.[1]?.trim();
  const own = self ? host.readFile(`/sys/fs/cgroup${self === "/" ? "" : self}/cgroup.controllers`) : null;
  const needed = ["cpu", "memory"];
  const have = (own ?? "").split(/\s+/);
  if (own !== null && needed.every((c) => have.includes(c))) return ok("cgroup v2", `delegated (${own.trim()})`);
  return bad(
    "cgroup v2",
    "warn",
    `unified; cpu and memory not delegated to ${self ?? "this process"}`,
    "the agent's unit needs Delegate=yes (pi:install-units writes it); run the doctor from that unit to check",
  );
}

export function checkDisk(host: DoctorHost, options: DoctorOptions): Verdict {
  const want = options.spoolBytes ?? 2 * 1024 ** 3;
  const free = host.freeBytes(options.spoolDir);
  if (free === null)
    return bad("spool disk", "fail", `${options.spoolDir} does not exist`, `mkdir -p ${options.spoolDir} (the agent's data directory)`);
  const gb = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (free >= want) return ok("spool disk", `${gb(free)} free in ${options.spoolDir}`);
  return bad(
    "spool disk",
    "fail",
    `${gb(free)} free in ${options.spoolDir}, ${gb(want)} wanted`,
    "free space or move the spool to a bigger disk (an SSD on the Pi 5's PCIe)",
  );
}

export function checkClock(host: DoctorHost): Verdict {
  const q = host.run("timedatectl", ["show", "-p", "NTPSynchronized", "--value"]);
  if (q && q.code === 0 && q.stdout.trim() === "yes") return ok("clock sync", "NTP synchronized");
  if (host.readFile("/run/systemd/timesync/synchronized") !== null) return ok("clock sync", "systemd-timesyncd synchronized");
  return bad(
    "clock sync",
    "fail",
    q ? `NTPSynchronized=${q.stdout.trim() || "?"}` : "timedatectl is missing",
    "heartbeats and signatures carry timestamps: `timedatectl set-ntp true` (systemd-timesyncd) and check the network reaches an NTP server",
  );
}

export function checkCertificate(host: DoctorHost, options: DoctorOptions): Verdict | null {
  if (!options.certFile) return null;
  const pem = host.readFile(options.certFile);
  if (pem === null) return bad("TLS certificate", "fail", `${options.certFile} is missing`, "npm run pi:cert writes it");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    return bad("TLS certificate", "fail", `not a PEM certificate (${(err as Error).message})`, "npm run pi:cert writes it");
  }
  const names = (cert.subjectAltName ?? "").split(",").map((n) => n.trim().replace(/^(DNS|IP Address):/, ""));
  if (new Date(cert.validTo) < new Date()) return bad("TLS certificate", "fail", `expired ${cert.validTo}`, "renew it: npm run pi:cert");
  const matches = (name: string) => (isIP(name) ? cert.checkIP(name) : cert.checkHost(name));
  if (options.hostname && !matches(options.hostname)) {
    return bad(
      "TLS certificate",
      "fail",
      `names ${names.join(", ")}, not ${options.hostname}`,
      `reissue it for ${options.hostname}: npm run pi:cert`,
    );
  }
  return ok("TLS certificate", `names ${names.join(", ")}, valid to ${cert.validTo}`);
}

export function runDoctor(host: DoctorHost, options: DoctorOptions): Verdict[] {
  const cert = checkCertificate(host, options);
  return [
    ...checkArchitecture(host),
    checkAddressBits(host),
    checkNode(host),
    ...checkCapture(host),
    ...checkXrdp(host),
    checkCgroup(host),
    checkDisk(host, options),
    checkClock(host),
    ...(cert ? [cert] : []),
  ];
}

export function formatVerdicts(verdicts: Verdict[]): string {
  const mark = { ok: "ok  ", warn: "WARN", fail: "FAIL" } as const;
  return verdicts.map((v) => `${mark[v.status]} ${v.check}: ${v.detail}${v.fix ? `\n     fix: ${v.fix}` : ""}`).join("\n");
}
