import { env, runInDurableObject } from "cloudflare:test";
import { drizzle } from "drizzle-orm/durable-sqlite";
import { describe, expect, it } from "vitest";
import { backoffMs, taskTable, TaskScheduler, wakeBy, type SchedulerOptions } from "../../durable-objects/scheduler.ts";

const table = taskTable("scheduler_test_tasks");
const HOUR = 3_600_000;
const backoff = { baseMs: HOUR, maxMs: 5 * HOUR };

/**
 * Runs `body` inside a real SQLite-backed Durable Object (one without an alarm handler of its own)
 * with a task table. Every time is hours ahead, so no alarm fires while a test runs.
 */
function inObject<T>(
  name: string,
  body: (storage: DurableObjectStorage, make: (options?: Partial<SchedulerOptions<string>>) => TaskScheduler<string>) => Promise<T>,
) {
  const stub = env.SYSTEM.get(env.SYSTEM.idFromName(`scheduler-test:${name}`));
  return runInDurableObject(stub, async (_instance, state) => {
    state.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS scheduler_test_tasks (name TEXT PRIMARY KEY, due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)",
    );
    const db = drizzle(state.storage);
    return body(state.storage, (options) => new TaskScheduler<string>(state.storage, db, table, { backoff, ...options }));
  });
}

describe("backoffMs", () => {
  it("doubles from the base after each failure and stops at the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, backoff))).toEqual([HOUR, 2 * HOUR, 4 * HOUR, 5 * HOUR, 5 * HOUR, 5 * HOUR]);
    expect(backoffMs(0, backoff)).toBe(HOUR);
  });
});

describe("TaskScheduler", () => {
  it("runs only due tasks, drops finished ones, reschedules repeating ones, and arms the alarm at the earliest", async () => {
    await inObject("due", async (storage, make) => {
      const tasks = make();
      const now = Date.now();
      tasks.schedule("done", now - 10);
      tasks.schedule("again", now - 5);
      tasks.schedule("later", now + 2 * HOUR);
      const ran: string[] = [];
      const failures = await tasks.runDue(async (name) => {
        ran.push(name);
        return name === "again" ? now + HOUR : undefined;
      }, now);
      expect(failures).toEqual([]);
      expect(ran).toEqual(["done", "again"]);
      expect(tasks.list().map((t) => [t.name, t.dueAt])).toEqual([
        ["again", now + HOUR],
        ["later", now + 2 * HOUR],
      ]);
      expect(await storage.getAlarm()).toBe(now + HOUR);
      tasks.cancel("again");
      tasks.cancel("later");
      await tasks.arm();
      expect(await storage.getAlarm()).toBeNull();
    });
  });

  it("retries a failing task with exponential back-off, counting attempts and keeping the error", async () => {
    await inObject("retry", async (storage, make) => {
      const tasks = make();
      tasks.schedule("flaky", Date.now() - 1);
      for (let attempt = 1; attempt <= 4; attempt++) {
        const before = Date.now();
        const failures = await tasks.runDue(async () => {
          throw new Error(`boom ${attempt}`);
        }, Number.MAX_SAFE_INTEGER);
        const after = Date.now();
        expect(failures).toEqual([{ name: "flaky", attempts: attempt, error: `boom ${attempt}`, gaveUp: false }]);
        const [row] = tasks.list();
        expect(row).toMatchObject({ name: "flaky", attempts: attempt, lastError: `boom ${attempt}` });
        const delay = backoffMs(attempt, backoff);
        expect(row!.dueAt).toBeGreaterThanOrEqual(before + delay);
        expect(row!.dueAt).toBeLessThanOrEqual(after + delay);
        expect(await storage.getAlarm()).toBe(row!.dueAt);
      }
      // Not due yet: a pass now runs nothing.
      const ran: string[] = [];
      await tasks.runDue(async (name) => void ran.push(name), Date.now());
      expect(ran).toEqual([]);
      // A successful run removes the task.
      await tasks.runDue(async () => undefined, Number.MAX_SAFE_INTEGER);
      expect(tasks.list()).toEqual([]);
    });
  });

  it("lets the owner give up inside the failure's transaction", async () => {
    await inObject("give-up", async (_storage, make) => {
      const seen: number[] = [];
      const tasks = make({
        onFailure: ({ attempts }) => {
          seen.push(attempts);
          return attempts >= 2 ? "give-up" : "retry";
        },
      });
      tasks.schedule("doomed", Date.now() - 1);
      const fail = async () => {
        throw new Error("no");
      };
      expect((await tasks.runDue(fail, Number.MAX_SAFE_INTEGER))[0]?.gaveUp).toBe(false);
      expect((await tasks.runDue(fail, Number.MAX_SAFE_INTEGER))[0]?.gaveUp).toBe(true);
      expect(seen).toEqual([1, 2]);
      expect(tasks.list()).toEqual([]);
    });
  });

  it("keeps an earlier due time when asked, and a reschedule resets the attempts", async () => {
    await inObject("keep", async (_storage, make) => {
      const tasks = make();
      const t0 = Date.now() + HOUR;
      tasks.schedule("t", t0);
      tasks.schedule("t", t0 + 4 * HOUR, true);
      expect(tasks.list()[0]).toMatchObject({ dueAt: t0 });
      await tasks.runDue(async () => {
        throw new Error("x");
      }, t0);
      expect(tasks.list()[0]).toMatchObject({ attempts: 1, lastError: "x" });
      tasks.schedule("t", t0 + 2 * HOUR);
      expect(tasks.list()[0]).toMatchObject({ dueAt: t0 + 2 * HOUR, attempts: 0, lastError: null });
      tasks.cancel("t");
      await tasks.arm();
    });
  });
});

describe("wakeBy", () => {
  it("brings the alarm forward, never back", async () => {
    await inObject("wake", async (storage) => {
      const soon = Date.now() + HOUR;
      await wakeBy(storage, soon + HOUR);
      expect(await storage.getAlarm()).toBe(soon + HOUR);
      await wakeBy(storage, soon);
      expect(await storage.getAlarm()).toBe(soon);
      await wakeBy(storage, soon + 2 * HOUR);
      expect(await storage.getAlarm()).toBe(soon);
      await storage.deleteAlarm();
    });
  });
});
