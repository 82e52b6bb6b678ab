/**
 * What the agent was told, on disk for `lucid-agent status` and for the next run:
 *
 *   STATE/notifications.json   { cursor, emergency, notices } (0600, written atomically)
 *
 * `cursor` is the id of the last broadcast handled: the stream resumes after it, so a restarted
 * agent neither misses a notification nor acts on one twice. `emergency` is the last known state of
 * the emergency controls; `notices` the newest broadcasts and `server.notify` messages (with where
 * each was shown), oldest first.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeSecretFile } from "./state.ts";

export const MAX_NOTICES = 50;

const flagSchema = z.object({ active: z.boolean(), reason: z.string().nullable(), since: z.string().nullable() }).strict();
export type EmergencyState = z.infer<typeof emergencySchema>;
const emergencySchema = z.object({ lockdown: flagSchema, recordings_halted: flagSchema, sessions_shutdown: flagSchema }).strict();

const noticeSchema = z
  .object({
    /** "broadcast:<id>" or "notify:<command id>". */
    key: z.string().min(1).max(100),
    source: z.enum(["broadcast", "server.notify"]),
    at: z.string(),
    severity: z.enum(["info", "warning", "critical"]),
    title: z.string().max(200),
    body: z.string().max(2000),
    serverId: z.string().max(64).optional(),
    /** X displays it was shown on. */
    shownOn: z.array(z.string()).max(1000),
    retracted: z.boolean(),
  })
  .strict();
export type Notice = z.infer<typeof noticeSchema>;

const boardSchema = z
  .object({
    version: z.literal(1),
    cursor: z.number().int().min(0).nullable(),
    emergency: emergencySchema,
    notices: z.array(noticeSchema).max(MAX_NOTICES),
  })
  .strict();
export type BoardState = z.infer<typeof boardSchema>;

const OFF = { active: false, reason: null, since: null };
export const noticeFile = (dir: string) => join(dir, "notifications.json");

export function emptyBoard(): BoardState {
  return { version: 1, cursor: null, emergency: { lockdown: OFF, recordings_halted: OFF, sessions_shutdown: OFF }, notices: [] };
}

/** The board on disk; a missing file is an empty board, a damaged one is an error the caller reports. */
export function readBoard(dir: string): BoardState {
  if (!existsSync(noticeFile(dir))) return emptyBoard();
  const parsed = boardSchema.safeParse(JSON.parse(readFileSync(noticeFile(dir), "utf8")));
  if (!parsed.success)
    throw new Error(`${noticeFile(dir)} is damaged: ${parsed.error.issues[0]?.path.join(".")} ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export class NoticeBoard {
  private state: BoardState;
  private readonly dir: string;

  /** Loads the board; a damaged file is reported through `warn` and replaced by an empty one. */
  constructor(dir: string, warn: (line: string) => void) {
    this.dir = dir;
    try {
      this.state = readBoard(dir);
    } catch (error) {
      warn(`warning: ${(error as Error).message}; starting with no notification history`);
      this.state = emptyBoard();
    }
  }

  get cursor(): number | null {
    return this.state.cursor;
  }

  get emergency(): EmergencyState {
    return this.state.emergency;
  }

  get notices(): readonly Notice[] {
    return this.state.notices;
  }

  setCursor(cursor: number): void {
    this.state.cursor = cursor;
    this.save();
  }

  setEmergency(emergency: EmergencyState): void {
    this.state.emergency = emergency;
    this.save();
  }

  /** Adds (or replaces, by key) a notice; with `cursor`, moves the cursor in the same write. */
  add(notice: Notice, cursor?: number): void {
    this.state.notices = [...this.state.notices.filter((n) => n.key !== notice.key), notice].slice(-MAX_NOTICES);
    if (cursor !== undefined) this.state.cursor = cursor;
    this.save();
  }

  update(key: string, patch: Partial<Pick<Notice, "shownOn" | "retracted">>): void {
    const notice = this.state.notices.find((n) => n.key === key);
    if (!notice) return;
    Object.assign(notice, patch);
    this.save();
  }

  private save(): void {
    writeSecretFile(noticeFile(this.dir), JSON.stringify(boardSchema.parse(this.state), null, 2) + "\n");
  }
}
