// Builds the web dashboard (functions/dashboard, Vite) into out/dashboard: the directory wrangler's
// [assets] serves and the self-hosted config copies. npm start, npm test, pi:build and
// deploy:check all build it first, so a fresh clone works without a separate step.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export const DASHBOARD_OUT = "out/dashboard";

export function dashboardDir(root: string): string {
  return join(root, DASHBOARD_OUT);
}

/** Runs `vite build`; with `ifMissing`, only when no build is there yet (parallel test builds share one). */
export function buildDashboard(root: string, options: { ifMissing?: boolean } = {}): string {
  const out = dashboardDir(root);
  if (options.ifMissing && existsSync(join(out, "index.html"))) return out;
  const binDir = join(root, "node_modules", ".bin");
  const result = spawnSync(join(binDir, "vite"), ["build", "--config", join(root, "functions", "dashboard", "vite.config.ts")], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH}` },
  });
  if (result.status !== 0) throw new Error(`dashboard build failed:\n${result.stderr || result.stdout || result.error}`);
  return out;
}
