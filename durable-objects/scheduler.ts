import { asc, eq, lte } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The table a TaskScheduler keeps its work in. A Durable Object declares it in its own schema
 * (`export const tasks = taskTable();`) so its migrations create it with the rest.
 */
export function taskTable(name = "tasks") {
  return sqliteTable(name, {
    name: text("name").primaryKey(),
    dueAt: integer("due_at").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
  });
}

export type TaskTable = ReturnType<typeof taskTable>;
export type ScheduledTask = TaskTable["$inferSelect"];

/** Exponential back-off: `baseMs` after the first failure, doubling, never more than `maxMs`. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export function backoffMs(attempts: number, policy: Backoff): number {
  return Math.min(policy.baseMs * 2 ** Math.max(attempts - 1, 0), policy.maxMs);
}

/**
 * For objects whose alarm serves deadlines they derive from their own rows: brings the alarm
 * forward to `at` (never earlier than `notBefore`), never pushes a sooner one back. An alarm
 * time already past counts as unset only when `replacePast` (it may be one that is running).
 */
export async function wakeBy(
  storage: DurableObjectStorage,
  at: number,
  options: { notBefore?: number; replacePast?: boolean } = {},
): Promise<void> {
  const current = await storage.getAlarm();
  if (current === null || current > at || (options.replacePast === true && current < Date.now())) {
    await storage.setAlarm(Math.max(at, options.notBefore ?? at));
  }
}

export interface TaskFailure<Name extends string> {
  name: Name;
  /** Failed runs so far, this one included. */
  attempts: number;
  error: string;
  /** The owner gave up (`onFailure` returned "give-up"): the task is gone. */
  gaveUp: boolean;
}

export interface SchedulerOptions<Name extends string> {
  backoff: Backoff;
  /**
   * Called inside the transaction that records a failed run; may write the owner's own tables
   * (an event, a state change). Return "give-up" to drop the task instead of retrying it.
   */
  onFailure?: (failure: Omit<TaskFailure<Name>, "gaveUp">) => "retry" | "give-up" | void;
}

// Any drizzle durable-sqlite database: the scheduler only touches its own table.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = DrizzleSqliteDODatabase<any>;

/**
 * "Run this task at T, retry with back-off", persisted: named tasks with a due time live in the
 * object's SQLite (one row each), and the object's one alarm is set to the earliest. `runDue`
 * (called from `alarm()`) runs what is due; a task that throws is retried after a back-off,
 * counting its attempts, until the owner gives up. Everything survives a restart.
 */
export class TaskScheduler<Name extends string> {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly db: AnyDb,
    private readonly table: TaskTable,
    private readonly options: SchedulerOptions<Name>,
  ) {}

  /**
   * Due at `dueAt` (attempts reset). With `keepEarlier` an already earlier due time stays.
   * Synchronous, so it can join the caller's transaction; call `arm()` afterwards.
   */
  schedule(name: Name, dueAt: number, keepEarlier = false): void {
    const t = this.table;
    const existing = this.db.select().from(t).where(eq(t.name, name)).get();
    if (existing && keepEarlier && existing.dueAt <= dueAt) return;
    this.db
      .insert(t)
      .values({ name, dueAt, attempts: 0 })
      .onConflictDoUpdate({ target: t.name, set: { dueAt, attempts: 0, lastError: null } })
      .run();
  }

  cancel(name: Name): void {
    this.db.delete(this.table).where(eq(this.table.name, name)).run();
  }

  /** Pending work, earliest first. */
  list(): ScheduledTask[] {
    return this.db.select().from(this.table).orderBy(asc(this.table.dueAt)).all();
  }

  /** The earliest due time, or null when nothing is pending. */
  nextDue(): number | null {
    return this.db.select({ dueAt: this.table.dueAt }).from(this.table).orderBy(asc(this.table.dueAt)).get()?.dueAt ?? null;
  }

  /** Sets the alarm to the earliest due task, or clears it. */
  async arm(): Promise<void> {
    const next = this.nextDue();
    if (next !== null) await this.storage.setAlarm(next);
    else await this.storage.deleteAlarm();
  }

  /**
   * Runs every due task in due order. `run` returns a time to run the task again, or undefined
   * when it is done. Re-arms the alarm and returns the failures of this pass.
   */
  async runDue(run: (name: Name) => Promise<number | undefined>, now = Date.now()): Promise<TaskFailure<Name>[]> {
    const t = this.table;
    const due = this.db.select().from(t).where(lte(t.dueAt, now)).orderBy(asc(t.dueAt)).all();
    const failures: TaskFailure<Name>[] = [];
    for (const task of due) {
      const name = task.name as Name;
      try {
        const next = await run(name);
        if (next === undefined) this.cancel(name);
        else this.schedule(name, next);
      } catch (error) {
        failures.push(this.#failed(name, task.attempts + 1, error));
      }
    }
    await this.arm();
    return failures;
  }

  #failed(name: Name, attempts: number, cause: unknown): TaskFailure<Name> {
    const error = cause instanceof Error ? cause.message : String(cause);
    let gaveUp = false;
    this.storage.transactionSync(() => {
      gaveUp = this.options.onFailure?.({ name, attempts, error }) === "give-up";
      if (gaveUp) {
        this.cancel(name);
        return;
      }
      this.db
        .update(this.table)
        .set({ attempts, dueAt: Date.now() + backoffMs(attempts, this.options.backoff), lastError: error })
        .where(eq(this.table.name, name))
        .run();
    });
    return { name, attempts, error, gaveUp };
  }
}
