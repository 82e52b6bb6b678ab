import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { METRIC_HELP } from "../../platform/metric-names.ts";
import { ALERT_RULES } from "../../shared/alert-rules.ts";

/**
 * docs/prometheus/ is what an operator copies: promtool (Debian's prometheus package) must accept
 * it, and every metric and rule label it names must be one the Worker exports
 * (platform/metric-names.ts METRIC_HELP; lucid_alerts_open carries every rule of shared/alert-rules.ts).
 */
const DOCS = new URL("../../docs/prometheus/", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "lucid-prometheus-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const promtool = (...args: string[]) => execFileSync("promtool", args, { cwd: dir, encoding: "utf8" });
const rules = readFileSync(join(DOCS, "alerts.yml"), "utf8");

describe("docs/prometheus", () => {
  it("promtool accepts the scrape configuration (with its rule file) and the alerting rules", () => {
    copyFileSync(join(DOCS, "scrape.yml"), join(dir, "scrape.yml"));
    copyFileSync(join(DOCS, "alerts.yml"), join(dir, "alerts.yml"));
    writeFileSync(join(dir, "lucid-scrape-token"), "test-only-metrics-scrape-token-0123456789abcdef");
    expect(promtool("check", "config", "scrape.yml")).toContain("SUCCESS");
    expect(promtool("check", "rules", "alerts.yml")).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("names only metrics the Worker exports", () => {
    const names = new Set(rules.match(/\blucid_[a-z_]+\b/g));
    expect(names.size).toBeGreaterThan(0);
    for (const name of names) expect(Object.keys(METRIC_HELP), name).toContain(name.replace(/_(bucket|sum|count)$/, ""));
  });

  it("has one alerting rule per Lucid alert rule, and no rule label Lucid does not export", () => {
    const labelled = [...rules.matchAll(/lucid_alerts_open\{rule="([a-z_]+)"\}/g)].map((m) => m[1]);
    expect([...labelled].sort()).toEqual(ALERT_RULES.map((r) => r.rule).sort());
  });
});
