// lucid-agent doctor's checks against injected machines: a Pi 5 on its default 16K-page kernel, the
// same Pi on kernel8.img, a 39-bit VA kernel, a fixture /proc and /sys, and the real machine's CLI.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runDoctor, type DoctorHost, type Verdict } from "../../pi-agent/lib/doctor.ts";

const dir = mkdtempSync(join(tmpdir(), "lucid-doctor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// /proc/self/maps of an arm64 process under a 48-bit VA kernel, and under a 39-bit one.
const MAPS_48 = "aaaab0000000-aaaab0100000 r-xp 00000000 b3:02 1 /usr/bin/node\nffffd0000000-ffffd0021000 rw-p 00000000 00:00 0 [stack]\n";
const MAPS_39 = "5555550000-5555560000 r-xp 00000000 b3:02 1 /usr/bin/node\n7ffff00000-7ffff21000 rw-p 00000000 00:00 0 [stack]\n";

/** A healthy Raspberry Pi 5 on kernel8.img; `over` replaces any part of it. */
function pi(over: Partial<DoctorHost> & { files?: Record<string, string> } = {}): DoctorHost {
  const files: Record<string, string> = {
    "/proc/self/maps": MAPS_48,
    "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
    "/proc/self/cgroup": "0::/system.slice/lucid-agent.service\n",
    "/sys/fs/cgroup/system.slice/lucid-agent.service/cgroup.controllers": "cpu memory pids\n",
    ...over.files,
  };
  return {
    arch: "arm64",
    nodeVersion: "22.15.0",
    readFile: (path) => files[path] ?? null,
    pageSize: () => 4096,
    freeBytes: () => 100 * 1024 ** 3,
    run: (command) =>
      command === "timedatectl" ? { code: 0, stdout: "yes\n" } : { code: 0, stdout: command === "dpkg-query" ? "0.9.21.1-1+deb12u3" : "" },
    addonError: () => null,
    probeDisplay: () => ({ shm: true, damage: true, note: "" }),
    ...over,
  };
}

const failed = (verdicts: Verdict[]) => verdicts.filter((v) => v.status !== "ok").map((v) => v.check);
const verdict = (verdicts: Verdict[], check: string) => verdicts.find((v) => v.check === check)!;

describe("lucid-agent doctor", () => {
  it("passes a Pi 5 on kernel8.img with everything in place", () => {
    expect(failed(runDoctor(pi(), { spoolDir: "/var/lib/lucid-agent" }))).toEqual([]);
  });

  it("fails the Pi 5's default 16K-page kernel and says to boot kernel8.img", () => {
    const v = verdict(runDoctor(pi({ pageSize: () => 16384 }), { spoolDir: "/x" }), "page size");
    expect(v).toMatchObject({ status: "fail", detail: expect.stringContaining("16K") });
    expect(v.fix).toContain("kernel=kernel8.img");
  });

  it("fails a 39-bit virtual address space, and a 32-bit system", () => {
    const v = runDoctor(pi({ files: { "/proc/self/maps": MAPS_39 } }), { spoolDir: "/x" });
    expect(verdict(v, "virtual address bits")).toMatchObject({ status: "fail", detail: expect.stringMatching(/^39/) });
    expect(verdict(runDoctor(pi({ arch: "arm" }), { spoolDir: "/x" }), "architecture").status).toBe("fail");
  });

  it("names old Node, a missing addon, a display without DAMAGE, missing xrdp, no NTP, a full disk", () => {
    const v = runDoctor(
      pi({
        nodeVersion: "22.14.0",
        probeDisplay: () => ({ shm: true, damage: false, note: "the X server has no DAMAGE" }),
        run: (command) => (command === "timedatectl" ? { code: 0, stdout: "no\n" } : { code: 1, stdout: "" }),
        freeBytes: () => 100 * 1024 ** 2,
      }),
      { spoolDir: "/var/lib/lucid-agent" },
    );
    expect(failed(v)).toEqual(["node", "DAMAGE", "xrdp", "xorgxrdp", "spool disk", "clock sync"]);
    for (const bad of v.filter((x) => x.status !== "ok")) expect(bad.fix, bad.check).toBeTruthy();
    const noAddon = runDoctor(pi({ addonError: () => "The lucid-agent native capture addon is not built" }), { spoolDir: "/x" });
    expect(verdict(noAddon, "capture addon")).toMatchObject({ status: "fail", fix: expect.stringContaining("libxdamage-dev") });
  });

  it("reads cgroup v2 delegation from a fixture /sys, and its absence", () => {
    const undelegated = pi({ files: { "/sys/fs/cgroup/system.slice/lucid-agent.service/cgroup.controllers": "pids\n" } });
    expect(verdict(runDoctor(undelegated, { spoolDir: "/x" }), "cgroup v2")).toMatchObject({
      status: "warn",
      fix: expect.stringContaining("Delegate=yes"),
    });
    const v1 = pi();
    const v1Host: DoctorHost = { ...v1, readFile: (p) => (p.startsWith("/sys/fs/cgroup") ? null : v1.readFile(p)) };
    expect(verdict(runDoctor(v1Host, { spoolDir: "/x" }), "cgroup v2").status).toBe("fail");
  });

  it("checks the TLS certificate's names", () => {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "30",
        "-subj",
        "/CN=pi.example",
        "-addext",
        "subjectAltName=DNS:pi.example,IP:192.168.1.20",
      ],
      { stdio: "ignore" },
    );
    const host = pi({ files: { [cert]: readFileSync(cert, "utf8") } });
    expect(verdict(runDoctor(host, { spoolDir: "/x", certFile: cert, hostname: "pi.example" }), "TLS certificate").status).toBe("ok");
    expect(verdict(runDoctor(host, { spoolDir: "/x", certFile: cert, hostname: "192.168.1.20" }), "TLS certificate").status).toBe("ok");
    const wrong = verdict(runDoctor(host, { spoolDir: "/x", certFile: cert, hostname: "lucid.other" }), "TLS certificate");
    expect(wrong).toMatchObject({ status: "fail", detail: expect.stringContaining("pi.example") });
    writeFileSync(join(dir, "junk.pem"), "not a cert");
    expect(verdict(runDoctor(pi({ files: { "/j": "junk" } }), { spoolDir: "/x", certFile: "/j" }), "TLS certificate").status).toBe("fail");
  });

  it("runs on this machine and prints a fix under every failed check", () => {
    let out = "";
    try {
      out = execFileSync(
        process.execPath,
        [join(import.meta.dirname, "../../pi-agent/bin/lucid-agent.ts"), "doctor", "--spool", dir, "--json"],
        { encoding: "utf8" },
      );
    } catch (err) {
      out = (err as { stdout: string }).stdout; // exit 1: something on this machine failed
    }
    const verdicts = JSON.parse(out) as Verdict[];
    expect(verdicts.map((v) => v.check)).toEqual(
      expect.arrayContaining(["architecture", "page size", "node", "capture addon", "spool disk"]),
    );
    for (const v of verdicts) if (v.status !== "ok") expect(v.fix, v.check).toBeTruthy();
  }, 30_000);
});
