// The real `lucid-agent` as a child process, its stdout and stderr gathered, for end-to-end tests.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../../edge-adapter/workerd-process.ts";
import { until } from "../../node/helpers/until.ts";

export const AGENT_BIN = join(ROOT, "pi-agent/bin/lucid-agent.ts");

export interface AgentRun {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** Resolves once the output matches `pattern` (with the match), or rejects on timeout or when the agent exits first. */
  waitFor(pattern: RegExp, what?: string, timeoutMs?: number): Promise<RegExpExecArray>;
  waitFor(check: (output: string) => boolean, what?: string, timeoutMs?: number): Promise<void>;
}

/** Starts `lucid-agent ARGS`; the child is pushed onto `children` so the test's afterAll can end it. */
export function startAgent(args: string[], children: ChildProcess[], defaultTimeoutMs: number): AgentRun {
  const child = spawn(process.execPath, [AGENT_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  async function waitFor(pattern: RegExp | ((output: string) => boolean), what = String(pattern), timeoutMs = defaultTimeoutMs) {
    const seen = await until(
      what,
      () => {
        if (typeof pattern === "function") {
          if (pattern(output)) return { match: undefined };
        } else {
          const match = pattern.exec(output);
          if (match) return { match };
        }
        return child.exitCode !== null && { exited: child.exitCode };
      },
      { timeoutMs, intervalMs: 100, detail: () => output.slice(-5000) },
    );
    if ("exited" in seen) throw new Error(`agent exited ${seen.exited} before ${what}:\n${output.slice(-5000)}`);
    return seen.match;
  }
  return { child, exited, output: () => output, waitFor: waitFor as AgentRun["waitFor"] };
}

/** `lucid-agent enroll` as an operator would run it (token in a file); returns the enrolled node's id. */
export async function enrolAgent(o: {
  server: string;
  operatorToken: string;
  stateDir: string;
  work: string;
  children: ChildProcess[];
}): Promise<string> {
  const tokenFile = join(o.work, "operator.token");
  writeFileSync(tokenFile, o.operatorToken, { mode: 0o600 });
  const args = ["enroll", "--server", o.server, "--payout-address", "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", "--bandwidth-mbps", "100"];
  const run = startAgent([...args, "--state", o.stateDir, "--operator-token-file", tokenFile], o.children, 60_000);
  const code = await run.exited;
  const nodeId = /enrolled as (node_[0-9a-f-]{36})/.exec(run.output())?.[1];
  if (code !== 0 || !nodeId) throw new Error(`lucid-agent enroll exited ${code}:\n${run.output().slice(-3000)}`);
  return nodeId;
}
