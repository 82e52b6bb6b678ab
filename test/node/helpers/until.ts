/** What a probe gives once it holds: its value without the falsy ones. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "" | 0n>;

export interface UntilOptions {
  /** How long to keep probing; generous by default (CI has 2 shared cores). */
  timeoutMs?: number;
  /** Pause between probes. */
  intervalMs?: number;
  /** What to print beside the failure (process output, events seen…). */
  detail?: () => string;
}

/**
 * Waits for a condition, not for a time: probes until `probe` gives a truthy value and returns it
 * (so a test can wait for and use what it polls for). A probe that throws counts as "not yet".
 * Node and e2e tests share this one helper; a test that only asserts uses `vi.waitFor` directly.
 * It does not use vitest itself: the benches start Xvfb through the same helpers, outside vitest.
 */
export async function until<T>(what: string, probe: () => T | Promise<T>, options: UntilOptions = {}): Promise<Truthy<T>> {
  const { timeoutMs = 30_000, intervalMs = 50, detail } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last = "";
    try {
      const value = await probe();
      if (value) return value as Truthy<T>;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      throw new Error(`no ${what} within ${timeoutMs} ms${last ? ` (last probe: ${last})` : ""}${detail ? `:\n${detail()}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
