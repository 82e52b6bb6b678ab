/**
 * What the agent does with what the notification stream and the RDP channel tell it:
 *
 * - every broadcast: one structured log line (`notification {json}`), kept on the notice board
 *   (`lucid-agent status --state`), and shown on every session desktop this agent serves;
 * - a retraction: logged, marked on the board, and its windows still on a desktop closed;
 * - `server.notify` (RDP channel): shown on that server's desktop, logged, kept on the board;
 * - the emergency controls, as a policy the ServerManager and the heartbeat follow:
 *   lockdown → the server refuses every node write (heartbeats, chunk uploads, session starts):
 *     uploads are held (recording goes on into the spool), recordings of new sessions wait, and
 *     heartbeats are held; all resume when it is lifted;
 *   recordings halted → every local recording stops cleanly (the open chunk is sealed, the spool
 *     kept) and none starts until it is lifted; spooled chunks upload then.
 */
import type { BroadcastMessage, EmergencySnapshot } from "../../../shared/admin.ts";
import type { DesktopNotice, DesktopTarget, ShownNotice } from "../xrdp/desktop-notice.ts";
import type { EmergencyState, Notice, NoticeBoard } from "./notice-board.ts";
import type { StreamHandlers } from "./notification-stream.ts";

export interface EmergencyPolicy {
  /** Node writes are refused (lockdown): hold uploads, new session recordings and heartbeats. */
  writesHeld: boolean;
  /** Recordings are halted: stop recording, keep the spool. */
  recordingsHalted: boolean;
}

export interface DesktopHost {
  /** The desktops of the sessions this agent serves now. */
  desktops(): (DesktopTarget & { serverId: string })[];
  applyEmergency(policy: EmergencyPolicy): Promise<void>;
}

export interface NotificationActionsOptions {
  board: NoticeBoard;
  host: DesktopHost;
  /** Shows a notice; `tag` marks its window so `closeTagged` finds it again (any agent process). */
  show: (target: DesktopTarget, notice: DesktopNotice, tag?: string) => Promise<ShownNotice>;
  /** Closes the windows tagged `tag` on a desktop; returns how many. */
  closeTagged?: (target: DesktopTarget, tag: string) => Promise<number>;
  log: (line: string) => void;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function policyOf(emergency: EmergencyState): EmergencyPolicy {
  return { writesHeld: emergency.lockdown.active, recordingsHalted: emergency.recordings_halted.active };
}

export class NotificationActions implements StreamHandlers {
  private readonly o: NotificationActionsOptions;
  /** Broadcast windows this process put on desktops, by notice key, so a retraction can close them. */
  private readonly windows = new Map<string, ShownNotice[]>();

  constructor(options: NotificationActionsOptions) {
    this.o = options;
  }

  get policy(): EmergencyPolicy {
    return policyOf(this.o.board.emergency);
  }

  /** Applies the state remembered from the last run before the stream connects. */
  async resume(): Promise<void> {
    const policy = this.policy;
    if (policy.writesHeld || policy.recordingsHalted) this.o.log(`emergency state from the last run: ${describe(policy)}`);
    await this.o.host.applyEmergency(policy);
  }

  async emergencyState(snapshot: EmergencySnapshot): Promise<void> {
    const flag = (f: EmergencySnapshot["lockdown"]) => ({ active: f.active, reason: f.reason, since: iso(f.changedAt) });
    await this.setEmergency({
      lockdown: flag(snapshot.lockdown),
      recordings_halted: flag(snapshot.recordings_halted),
      sessions_shutdown: flag(snapshot.sessions_shutdown),
    });
  }

  async emergencyChange(message: { control: keyof EmergencyState; active: boolean; body: string; at: string }): Promise<void> {
    this.o.log(`emergency ${JSON.stringify({ control: message.control, active: message.active, reason: message.body, at: message.at })}`);
    await this.setEmergency({
      ...this.o.board.emergency,
      [message.control]: { active: message.active, reason: message.body, since: message.at },
    });
  }

  private async setEmergency(next: EmergencyState): Promise<void> {
    const before = this.policy;
    const changed = (Object.keys(next) as (keyof EmergencyState)[]).some((k) => next[k].active !== this.o.board.emergency[k].active);
    this.o.board.setEmergency(next);
    const after = this.policy;
    if (!changed) return;
    this.o.log(`emergency policy: ${describe(after)}`);
    if (before.writesHeld !== after.writesHeld || before.recordingsHalted !== after.recordingsHalted)
      await this.o.host.applyEmergency(after);
  }

  async notification(message: BroadcastMessage): Promise<void> {
    this.o.log(
      `notification ${JSON.stringify({ id: message.id, at: message.at, audience: message.audience, severity: message.severity, title: message.title, body: message.body })}`,
    );
    const key = `broadcast:${message.id}`;
    this.o.board.add(
      {
        key,
        source: "broadcast",
        at: message.at,
        severity: message.severity,
        title: message.title,
        body: message.body,
        shownOn: [],
        retracted: false,
      },
      message.id,
    );
    const windows = await this.showEverywhere({ level: message.severity, title: message.title, body: message.body }, `b${message.id}`);
    if (windows.length === 0) return;
    this.o.board.update(key, { shownOn: windows.map((w) => w.display) });
    this.windows.set(key, windows);
    // Only windows still up are worth remembering: the user closes most of them long before any retraction.
    for (const [k, list] of this.windows) if (list.every((w) => !w.open)) this.windows.delete(k);
  }

  async retraction(message: BroadcastMessage): Promise<void> {
    const key = `broadcast:${message.id}`;
    const closedOn = await this.closeWindows(key, message.id);
    this.o.log(`retraction ${JSON.stringify({ id: message.id, at: message.at, title: message.title, closedOn })}`);
    this.o.board.update(key, { retracted: true });
  }

  /**
   * Closes the broadcast's windows still on a desktop: those this process showed by their handle,
   * those an earlier agent process showed (the board says where) by their tag. Returns the displays.
   */
  private async closeWindows(key: string, id: number): Promise<string[]> {
    const handles = this.windows.get(key) ?? [];
    this.windows.delete(key);
    const closed = new Set<string>();
    for (const window of handles.filter((w) => w.open)) {
      window.close();
      closed.add(window.display);
    }
    const shownOn = this.o.board.notices.find((n) => n.key === key)?.shownOn ?? [];
    const ours = new Set(handles.map((w) => w.display));
    for (const desktop of this.o.host.desktops()) {
      if (!this.o.closeTagged || ours.has(desktop.display) || !shownOn.includes(desktop.display)) continue;
      try {
        if ((await this.o.closeTagged(desktop, `b${id}`)) > 0) closed.add(desktop.display);
      } catch (error) {
        this.o.log(
          `server ${desktop.serverId}: the retracted notice could not be closed on ${desktop.display}: ${(error as Error).message}`,
        );
      }
    }
    return [...closed];
  }

  async retractedWhileAway(ids: number[]): Promise<void> {
    for (const id of ids) {
      const notice = this.o.board.notices.find((n) => n.key === `broadcast:${id}`);
      if (!notice || notice.retracted) continue;
      const closedOn = await this.closeWindows(notice.key, id);
      this.o.log(`retraction ${JSON.stringify({ id, at: null, title: notice.title, whileAway: true, closedOn })}`);
      this.o.board.update(notice.key, { retracted: true });
    }
  }

  async history(messages: BroadcastMessage[], cursor: number): Promise<void> {
    for (const m of messages) {
      this.o.board.add({
        key: `broadcast:${m.id}`,
        source: "broadcast",
        at: m.at,
        severity: m.severity,
        title: m.title,
        body: m.body,
        shownOn: [],
        retracted: false,
      });
    }
    this.o.board.setCursor(cursor);
    this.o.log(`notifications: first connection; ${messages.length} earlier broadcasts kept for status, following from id ${cursor}`);
  }

  /** `server.notify`: on the server's desktop when a user is connected; always logged and on the board. */
  async serverNotify(
    commandId: string,
    serverId: string,
    level: "info" | "warning",
    message: string,
    target: DesktopTarget | null,
  ): Promise<void> {
    this.o.log(`desktop-notice ${JSON.stringify({ commandId, serverId, level, message, display: target?.display ?? null })}`);
    const notice: Notice = {
      key: `notify:${commandId}`,
      source: "server.notify",
      at: new Date().toISOString(),
      severity: level,
      title: "Message from Lucid",
      body: message,
      serverId,
      shownOn: [],
      retracted: false,
    };
    this.o.board.add(notice);
    if (!target) return;
    await this.o.show(target, { level, title: notice.title, body: message });
    this.o.board.update(notice.key, { shownOn: [target.display] });
  }

  private async showEverywhere(notice: DesktopNotice, tag: string): Promise<ShownNotice[]> {
    const shown: ShownNotice[] = [];
    for (const desktop of this.o.host.desktops()) {
      try {
        shown.push(await this.o.show(desktop, notice, tag));
      } catch (error) {
        this.o.log(`server ${desktop.serverId}: the notice could not be shown on ${desktop.display}: ${(error as Error).message}`);
      }
    }
    return shown;
  }
}

function describe(p: EmergencyPolicy): string {
  const parts = [
    p.writesHeld ? "lockdown: uploads, new session recordings and heartbeats held" : "writes allowed",
    p.recordingsHalted ? "recordings halted: local recordings stopped, spool kept" : "recordings allowed",
  ];
  return parts.join("; ");
}
