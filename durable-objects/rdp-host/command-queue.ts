import { and, asc, eq, isNotNull, lte } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import {
  COMMANDS_PER_FRAME,
  retryDelaySeconds,
  type CommandBody,
  type CommandFrame,
  type CommandsFrame,
} from "../../shared/rdp/protocol.ts";
import { randomHex } from "./channel.ts";
import * as schema from "./schema.ts";

const { commands } = schema;
export type CommandRow = typeof commands.$inferSelect;
export type CommandStatus = "pending" | "done" | "failed" | "expired";

/**
 * The host's commands to its agent, in SQLite: queued with an id and a sequence number, sent
 * when the agent is there, re-sent with back-off until acked, replayed in order after hello,
 * settled once (acked or given up). One-time passwords are blanked when a command settles.
 */
export class CommandQueue {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    /** The agent's socket when it is connected and said hello. */
    private readonly agent: () => WebSocket | null,
    private readonly count: (name: string, labels: Record<string, string>) => void,
  ) {}

  /** Queues a command and sends it at once when the agent is there (unless `send` is false). */
  enqueue(command: CommandBody, send = true): string {
    const id = `cmd_${randomHex(12)}`;
    const now = Date.now();
    const row = this.db
      .insert(commands)
      .values({
        id,
        serverId: command.serverId,
        kind: command.kind,
        body: command,
        status: "pending",
        issuedAt: now,
        nextAttemptAt: now,
      })
      .returning()
      .get();
    const ws = send ? this.agent() : null;
    if (ws) this.deliver(ws, row);
    return id;
  }

  /** One delivery: the attempt is counted and the next retry scheduled before the frame goes out. */
  deliver(ws: WebSocket, row: CommandRow): void {
    const frame = this.#attempt(row);
    try {
      ws.send(JSON.stringify(frame));
      this.#countSent(row, frame.attempt);
    } catch {
      // The socket closed under us: the command stays pending and is replayed after the next hello.
    }
  }

  #attempt(row: CommandRow): CommandFrame {
    const attempt = row.attempts + 1;
    this.db
      .update(commands)
      .set({ attempts: attempt, nextAttemptAt: Date.now() + retryDelaySeconds(attempt) * 1000 })
      .where(eq(commands.seq, row.seq))
      .run();
    return { type: "command", id: row.id, seq: row.seq, attempt, issuedAt: row.issuedAt, command: row.body };
  }

  #countSent(row: CommandRow, attempt: number): void {
    this.count("lucid_rdp_commands_sent_total", { kind: row.kind, delivery: attempt === 1 ? "first" : "retry" });
  }

  /**
   * Every pending command again, in order (after hello): one frame each, or, to an agent that
   * asked for batches, `commands` frames of up to COMMANDS_PER_FRAME in the same order, each
   * command counted as an attempt exactly as a single delivery is.
   */
  replay(ws: WebSocket, batches = false): void {
    const rows = this.db.select().from(commands).where(eq(commands.status, "pending")).orderBy(asc(commands.seq)).all();
    if (!batches) {
      for (const row of rows) this.deliver(ws, row);
      return;
    }
    for (let start = 0; start < rows.length; start += COMMANDS_PER_FRAME) {
      const group = rows.slice(start, start + COMMANDS_PER_FRAME);
      const frame: CommandsFrame = { type: "commands", commands: group.map((row) => this.#attempt(row)) };
      try {
        ws.send(JSON.stringify(frame));
      } catch {
        return; // closed under us: everything still pending is replayed after the next hello
      }
      frame.commands.forEach((command, k) => this.#countSent(group[k]!, command.attempt));
    }
  }

  /** Acked or given up: the body keeps no password. */
  settle(row: CommandRow, status: Exclude<CommandStatus, "pending">, error: string | null): void {
    const secret = row.kind === "server.start" || row.kind === "server.credentials";
    const body = secret ? { ...row.body, password: "[redacted]" } : row.body;
    this.db.update(commands).set({ status, error, ackedAt: Date.now(), nextAttemptAt: null, body }).where(eq(commands.seq, row.seq)).run();
  }

  byId(id: string): CommandRow | undefined {
    return this.db.select().from(commands).where(eq(commands.id, id)).get();
  }

  /** The server's command of this kind (the pending one when `pendingOnly`). */
  forServer(serverId: string, kind: CommandBody["kind"], pendingOnly: boolean): CommandRow | undefined {
    const conditions = [eq(commands.serverId, serverId), eq(commands.kind, kind), ...(pendingOnly ? [eq(commands.status, "pending")] : [])];
    return this.db
      .select()
      .from(commands)
      .where(and(...conditions))
      .orderBy(asc(commands.seq))
      .get();
  }

  /** Pending commands whose retry is due. */
  due(now: number): CommandRow[] {
    return this.db
      .select()
      .from(commands)
      .where(and(eq(commands.status, "pending"), lte(commands.nextAttemptAt, now)))
      .orderBy(asc(commands.seq))
      .all();
  }

  nextAttemptAt(): number | null {
    const next = this.db
      .select({ at: commands.nextAttemptAt })
      .from(commands)
      .where(and(eq(commands.status, "pending"), isNotNull(commands.nextAttemptAt)))
      .orderBy(asc(commands.nextAttemptAt))
      .get();
    return next?.at ?? null;
  }

  pendingCount(): Promise<number> {
    return Promise.resolve(this.db.$count(commands, eq(commands.status, "pending")));
  }
}
