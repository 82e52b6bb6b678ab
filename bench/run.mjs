// npm run bench [-- [--smoke] name...]: runs every bench/<name> file (or the named ones), each in its
// own process, and checks that each prints its `BENCH <name> …` line. --smoke (or BENCH_SMOKE=1)
// runs each with tiny sizes and durations, only to show it still works (CI runs it after npm test);
// its figures mean nothing. A bench whose system tools are missing (Xvfb, the agent's addon: see
// scripts/system-tools.ts) is skipped with a summary, or fails the run under CI=true.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ciBlocking, ciFailure, describeSkips, missingTools } from "../scripts/system-tools.ts";

const dir = new URL(".", import.meta.url).pathname;
const HELPERS = new Set(["run.mjs", "agent-workload.mjs", "report.mjs", "admin-token.mjs", "cpu-profile.mjs", "chunk-store-setup.mjs"]);
const all = readdirSync(dir)
  .filter((f) => /\.(mjs|ts)$/.test(f) && !HELPERS.has(f) && !f.endsWith(".d.ts"))
  .map((f) => f.replace(/\.(mjs|ts)$/, ""))
  .sort();

// Smoke sizes: every knob the benches read, as small as still exercises the code path.
const SMOKE = {
  BENCH_SECONDS: "0.3", // agent-capture
  BENCH_COMMANDS: "100", // agent-channel
  BENCH_CHUNKS: "2", // agent-pipeline, ingest
  BENCH_ROUNDS: "1", // agent-pipeline, audit-verify, heartbeats, ingest, playback, workerd-rss
  BENCH_MINUTES: "0.1", // agent-recording-size (simulated minutes)
  BENCH_CPU_SECONDS: "5", // agent-cpu (real seconds a run)
  BENCH_ANCHORS: "200", // anchors
  BENCH_SINGLE_ANCHORS: "20",
  BENCH_PROOFS: "50",
  BENCH_AUDIT_EVENTS: "500", // audit-verify
  BENCH_CONNECTIONS: "4", // gateway
  BENCH_DURATION: "1",
  BENCH_NODES: "10", // heartbeats
  BENCH_CHUNK_BYTES: String(256 * 1024), // ingest
  BENCH_MS: "100", // jwt-verify, login
  BENCH_PAYOUTS: "20", // payouts
  BENCH_BATCH: "10",
  BENCH_SESSIONS: "2", // workerd-rss
  BENCH_FRAMES: "8", // playback
  BENCH_PACKAGE_BYTES: String(2 * 1024 * 1024), // verify-package, package (with BENCH_CHUNK_BYTES)
  BENCH_BLOCKS: "20",
};

const args = process.argv.slice(2);
const smoke = args.includes("--smoke") || process.env.BENCH_SMOKE === "1";
const wanted = args.filter((a) => a !== "--smoke");
const unknown = wanted.filter((name) => !all.includes(name));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(", ")}; available: ${all.join(", ")}`);
  process.exit(2);
}
const names = wanted.length ? wanted : all;
const benchName = (file) => file.replace(/^bench\//, "").replace(/\.(mjs|ts)$/, "");
const skips = missingTools("bench").filter((s) => names.includes(benchName(s.file)));
if (ciBlocking(skips).length > 0 && process.env.CI === "true") {
  console.error(ciFailure(ciBlocking(skips)));
  process.exit(1);
}
const skipped = new Set(skips.map((s) => benchName(s.file)));

/** Runs one bench with its output passed through; resolves with its exit code and whether it printed its BENCH line. */
function runBench(file, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { env, stdio: ["ignore", "pipe", "inherit"] });
    let sawLine = false;
    let tail = "";
    child.stdout.on("data", (data) => {
      process.stdout.write(data);
      tail = (tail + data).slice(-100_000);
      sawLine ||= /^BENCH \S+ /m.test(tail);
    });
    child.on("close", (code, signal) => resolve({ code: code ?? signal, sawLine }));
  });
}

const env = smoke ? { ...SMOKE, ...process.env } : process.env;
const failed = [];
const started = performance.now();
for (const name of names.filter((n) => !skipped.has(n))) {
  const file = ["mjs", "ts"].map((ext) => join(dir, `${name}.${ext}`)).find(existsSync);
  console.log(`\n## ${name}${smoke ? " (smoke)" : ""}`);
  const t0 = performance.now();
  const { code, sawLine } = await runBench(file, env);
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  if (code !== 0 || !sawLine) {
    console.error(`bench ${name} failed after ${seconds} s: ${code !== 0 ? `exit ${code}` : "no BENCH line printed"}`);
    failed.push(name);
  } else console.log(`(${name}: ${seconds} s)`);
}
const total = ((performance.now() - started) / 1000).toFixed(0);
console.log(
  `\n${names.length - skipped.size - failed.length} bench(es) ran${smoke ? " in smoke mode" : ""} in ${total} s${failed.length ? `; failed: ${failed.join(", ")}` : ""}`,
);
if (skips.length > 0) {
  console.log(`Skipped ${skips.length} bench(es): system tools they need are missing on this machine.`);
  for (const line of describeSkips(skips)) console.log(line);
}
process.exit(failed.length ? 1 : 0);
