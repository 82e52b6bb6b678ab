// scripts/system-tools.ts against the repository: every test file it names exists, every Debian
// package it names is in the list `npm run setup:system` and .ci/run install, and the skip summary
// and the CI failure name the file, the missing tool and the install command.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ciBlocking, ciFailure, describeSkips, NEEDS, TOOLS } from "../../scripts/system-tools.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const packages = readFileSync(join(ROOT, "scripts/system-packages.txt"), "utf8")
  .split("\n")
  .map((line) => line.replace(/#.*/, "").trim())
  .filter(Boolean);

describe("system tools of the tests", () => {
  it("names test files that exist, each under its vitest project", () => {
    for (const { file, project } of NEEDS) {
      expect(existsSync(join(ROOT, file)), file).toBe(true);
      const agent = file.startsWith("test/node/agent-") || file === "test/e2e/whole-flow.test.ts";
      const arm64 = file === "test/e2e/workerd-arm64.test.ts"; // emulated, minutes: a project of its own
      const node = file.startsWith("test/node/") && !agent;
      expect(project, file).toBe(file.startsWith("bench/") ? "bench" : agent ? "agent" : arm64 ? "arm64" : node ? "node" : "e2e");
    }
    // One entry a file: two (left by merges) would list it twice in the skip summary.
    const files = NEEDS.map((n) => n.file);
    expect(files.filter((f, i) => files.indexOf(f) !== i)).toEqual([]);
  });

  it("takes every tool from a package that setup:system installs", () => {
    for (const [name, tool] of Object.entries(TOOLS)) {
      if ("pkg" in tool) expect(packages, name).toContain(tool.pkg);
    }
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toContain("scripts/setup-system.sh");
  });

  it("says which file is skipped, for which missing tool, and the one install command", () => {
    expect(describeSkips([{ file: "test/node/agent-notify.test.ts", project: "agent", missing: ["xvfb", "x11Utils"] }])).toEqual([
      "  test/node/agent-notify.test.ts: missing Xvfb (xvfb); xmessage, xwininfo, xkill (x11-utils)",
      "Install them with: sudo npm run setup:system",
    ]);
    const failure = ciFailure([{ file: "test/e2e/dashboard.test.ts", project: "e2e", missing: ["chromium"] }]);
    expect(failure).toMatch(/^CI=true and 1 file\(s\) need system tools that are missing/);
    expect(failure).toContain("test/e2e/dashboard.test.ts: missing chromium (/usr/bin/chromium)");
  });

  it("under CI a missing package blocks the run, a host capability (cgroup delegation) only skips", () => {
    const cgroups = { file: "test/node/agent-cgroups.test.ts", project: "agent", missing: ["cgroup2" as const] };
    const browser = { file: "test/e2e/dashboard.test.ts", project: "e2e", missing: ["chromium" as const] };
    expect(ciBlocking([cgroups])).toEqual([]);
    expect(ciBlocking([cgroups, browser])).toEqual([browser]);
    expect(ciBlocking([{ ...cgroups, missing: ["cgroup2", "root"] }])).toHaveLength(1);
  });
});
