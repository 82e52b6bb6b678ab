// Runs a workerd process on loopback (benchmarks and end-to-end tests) and waits for it.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface WorkerdProcess {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `options.command`: how to run workerd instead of node_modules' binary, e.g. another architecture's
 * build under user emulation: ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", ".../workerd"].
 * `options.args`: extra arguments after the config (an inspector address for profiling).
 */
export function startWorkerd(
  configPath: string,
  options: { env?: Record<string, string | undefined>; command?: string[]; args?: string[] } = {},
): WorkerdProcess {
  const [exe, ...pre] = options.command ?? [join(ROOT, "node_modules", ".bin", "workerd")];
  const child = spawn(exe!, [...pre, "serve", configPath, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  // Keep only the tail: a long run logs one line per request.
  const keep = (data: Buffer) => (output = (output + data.toString()).slice(-64 * 1024));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return {
    child,
    output: () => output,
    stop: (signal = "SIGTERM") =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
  };
}

/** Waits until `url` answers; by default any status below 500 counts, `anyStatus` accepts 5xx too. */
export async function waitForHttp(url: string, timeoutMs = 20_000, anyStatus = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (anyStatus || res.status < 500) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** waitForHttp for a workerd the caller started: a failure carries the process's output, which says why. */
export async function waitForWorkerd(
  workerd: WorkerdProcess | undefined,
  url: string,
  timeoutMs = 20_000,
  anyStatus = false,
): Promise<void> {
  await waitForHttp(url, timeoutMs, anyStatus).catch((error: Error) => {
    throw new Error(`${error.message}\n${workerd?.output()}`);
  });
}
