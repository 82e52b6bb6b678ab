import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatVerdicts, runDoctor, type DoctorHost } from "../doctor.ts";
import { ScreenCapture, addonLoadError } from "../native.ts";
import { EXIT } from "./exit-codes.ts";

export const DOCTOR_HELP = `lucid-agent doctor [options]

Checks what breaks a Pi install before it does: architecture and page size (the Pi 5's 16K-page
kernel vs kernel8.img), virtual address bits for workerd, Node ≥ 22.15, the capture addon, MIT-SHM and
DAMAGE on a test display, xrdp/xorgxrdp, cgroup v2 delegation, free disk for the spool, clock sync and
the TLS certificate's names. Each failed check prints its fix. Exit 0 when nothing failed, 1 otherwise.

  --spool DIR     the agent's data directory (default /var/lib/lucid-agent)
  --display :N    an X display to probe (default: a short-lived Xvfb, when installed)
  --cert FILE     the TLS certificate to check (default: none)
  --hostname H    the name or address the certificate must carry
  --json          the verdicts as JSON
`;

function probe(display: string): { shm: boolean; damage: boolean; note: string } | { error: string } {
  try {
    const capture = ScreenCapture.openX11(display);
    const info = capture.info();
    capture.close();
    return { shm: info.shm, damage: info.damage, note: info.note };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Probes a throwaway Xvfb (the X server the agent's own tests use) for MIT-SHM and DAMAGE. */
async function probeXvfb(): Promise<{ shm: boolean; damage: boolean; note: string } | { error: string }> {
  const which = spawnSync("sh", ["-c", "command -v Xvfb"]);
  if (which.status !== 0) return { error: "Xvfb is not installed and no --display was given" };
  const n = 900 + Math.floor(Math.random() * 90);
  const xvfb = spawn("Xvfb", [`:${n}`, "-screen", "0", "64x64x24", "-nolisten", "tcp"], { stdio: "ignore" });
  try {
    for (let i = 0; i < 100; i++) {
      if (existsSync(`/tmp/.X11-unix/X${n}`)) {
        const result = probe(`:${n}`);
        if (!("error" in result) || i > 90) return result;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { error: `Xvfb :${n} did not start` };
  } finally {
    xvfb.kill("SIGTERM");
  }
}

export async function doctor(argv: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spool: { type: "string" },
      display: { type: "string" },
      cert: { type: "string" },
      hostname: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return (log(DOCTOR_HELP), EXIT.ok);
  const display = values.display ? probe(values.display) : await probeXvfb();
  const host: DoctorHost = {
    arch: process.arch,
    nodeVersion: process.versions.node,
    readFile: (path) => {
      try {
        return readFileSync(path, "utf8");
      } catch {
        return null;
      }
    },
    pageSize: () => Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()),
    freeBytes: (dir) => {
      try {
        const s = statfsSync(dir);
        return s.bavail * s.bsize;
      } catch {
        return null;
      }
    },
    run: (command, args) => {
      const r = spawnSync(command, args, { encoding: "utf8" });
      return r.error ? null : { code: r.status ?? 1, stdout: r.stdout };
    },
    addonError: addonLoadError,
    probeDisplay: () => display,
  };
  const verdicts = runDoctor(host, { spoolDir: values.spool ?? "/var/lib/lucid-agent", certFile: values.cert, hostname: values.hostname });
  log(values.json ? JSON.stringify(verdicts, null, 2) : formatVerdicts(verdicts));
  return verdicts.some((v) => v.status === "fail") ? EXIT.failure : EXIT.ok;
}
