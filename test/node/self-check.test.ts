import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ReportSchema } from "../../shared/nodes/protocol.ts";
import { agentServices } from "../../pi-agent/lib/node/self-check.ts";
import { HostSampler } from "../../pi-agent/lib/node/heartbeat.ts";

/** The agent's own services in its heartbeat report (server side: test/worker/health-truth.test.ts). */
const dir = mkdtempSync(join(tmpdir(), "lucid-self-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("agentServices", () => {
  it("says XRDP is unhealthy when a desktop server failed, and the chunk processor when its spool is not writable", () => {
    const ok = agentServices({ list: () => [{ state: "listening" }] }, join(dir, "spool"));
    const failed = agentServices({ list: () => [{ state: "listening" }, { state: "failed" }] }, join(dir, "spool"));
    expect(failed.xrdp).toBe(false);
    expect(ok.chunkProcessor).toBe(true);
    if (process.getuid?.() !== 0) {
      chmodSync(dir, 0o500);
      expect(agentServices({ list: () => [] }, join(dir, "spool")).chunkProcessor).toBe(false);
      chmodSync(dir, 0o700);
    }
    expect(typeof ok.recorder).toBe("boolean");
  });

  it("goes into the signed report in the shape the server validates", () => {
    const services = agentServices({ list: () => [] }, join(dir, "spool"));
    const report = new HostSampler(dir).sample({ sessionsHosted: 0, bytesRecorded: 0, accepting: true, services });
    expect(ReportSchema.parse(report).services).toEqual(services);
  });
});
