import { describe, expect, it } from "vitest";
import { cgroupDelegation, cpuMax } from "../../pi-agent/lib/xrdp/cgroups.ts";

describe("desktop cgroup limits", () => {
  it("turns a share of the host into cpu.max over all its cores", () => {
    expect(cpuMax(25, 4)).toBe("100000 100000");
    expect(cpuMax(50, 2)).toBe("100000 100000");
    expect(cpuMax(10, 1)).toBe("10000 100000");
    expect(cpuMax(0.001, 1)).toBe("1000 100000"); // the kernel's minimum quota
  });

  it("says whether cgroup v2 is delegated here, and why not", () => {
    const d = cgroupDelegation();
    expect(typeof d.delegated).toBe("boolean");
    if (d.delegated) expect(d.reason).toBe("");
    else expect(d.reason).toMatch(/\w/);
  });
});
