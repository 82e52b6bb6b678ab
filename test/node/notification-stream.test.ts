// The agent's notifications subscriber, the parts that need no server: frame validation, the
// reconnect back-off, the stream URL and the notice board it persists its cursor in.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backoffDelay } from "../../pi-agent/lib/backoff.ts";
import { MAX_NOTICES, NoticeBoard, noticeFile, readBoard, type Notice } from "../../pi-agent/lib/node/notice-board.ts";
import { NotificationStream, parseStreamFrame, streamUrl, type StreamEvent } from "../../pi-agent/lib/node/notification-stream.ts";
import { ControlChannel, type ChannelEvent } from "../../pi-agent/lib/node/control-channel.ts";
import { freePort } from "../../edge-adapter/workerd-process.ts";
import { until } from "./helpers/until.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "lucid-notices-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const flag = { active: false, reason: null, changedBy: null, changedAt: null };
const hello = {
  type: "hello",
  listener: "agent",
  emergency: { lockdown: flag, recordings_halted: flag, sessions_shutdown: flag, lockdownMessage: "m" },
  recent: [],
  lastId: 4,
  resumedAfter: 2,
  retracted: [1],
};
const note = {
  type: "notification",
  id: 3,
  at: "2026-11-26T00:00:00.000Z",
  audience: "agents",
  severity: "warning",
  title: "t",
  body: "b",
};

describe("parseStreamFrame", () => {
  it("accepts every message the server sends", () => {
    for (const frame of [
      hello,
      note,
      { ...note, type: "retraction" },
      { ...note, type: "emergency", id: 0, audience: "all", control: "recordings_halted", active: true },
      { type: "pong" },
    ]) {
      const parsed = parseStreamFrame(JSON.stringify(frame));
      expect(parsed.ok, JSON.stringify(frame)).toBe(true);
    }
  });

  it("refuses what is not JSON or not a stream message, saying where", () => {
    expect(parseStreamFrame("{nope")).toEqual({ ok: false, detail: "a frame that is not JSON" });
    const bad = [
      { type: "surprise" },
      { ...note, id: 0 },
      { ...note, id: "3" },
      { ...note, severity: "panic" },
      { ...note, audience: "everyone" },
      { ...note, type: "emergency", id: 0, control: "self_destruct", active: true },
      { ...note, type: "emergency", id: 0, control: "lockdown" },
      { ...hello, lastId: -1 },
      { ...hello, retracted: [0] },
      { ...hello, retracted: undefined },
      { ...hello, emergency: { lockdown: flag } },
      null,
      [],
    ];
    for (const frame of bad) {
      const parsed = parseStreamFrame(JSON.stringify(frame));
      expect(parsed.ok, JSON.stringify(frame)).toBe(false);
      if (!parsed.ok) expect(parsed.detail).not.toBe("");
    }
    const missing = parseStreamFrame(JSON.stringify({ ...note, title: undefined }));
    expect(missing).toMatchObject({ ok: false, detail: expect.stringContaining("title") });
  });
});

describe("backoffDelay", () => {
  const o = { minMs: 1000, maxMs: 60_000 };
  it("doubles from the minimum per failure and stops at the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20, 1e6].map((n) => backoffDelay(n, o, () => 0.5))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000,
    ]);
  });
  it("spreads ±20 % by default, never above the cap or below 1 ms", () => {
    expect(backoffDelay(0, o, () => 0)).toBe(800);
    expect(backoffDelay(0, o, () => 0.999999)).toBe(1200);
    expect(backoffDelay(10, o, () => 0.999999)).toBe(60_000);
    expect(backoffDelay(10, o, () => 0)).toBe(48_000);
    expect(backoffDelay(0, { minMs: 1, maxMs: 1, jitter: 0.9 }, () => 0)).toBe(1);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, o);
      expect(d).toBeGreaterThanOrEqual(6400);
      expect(d).toBeLessThanOrEqual(9600);
    }
  });
  it("refuses nonsense options", () => {
    expect(() => backoffDelay(0, { minMs: 0, maxMs: 10 })).toThrow(RangeError);
    expect(() => backoffDelay(0, { minMs: 10, maxMs: 5 })).toThrow(RangeError);
    expect(() => backoffDelay(0, { minMs: 1, maxMs: 5, jitter: 1 })).toThrow(RangeError);
  });
});

describe("streamUrl", () => {
  it("maps http(s) to ws(s) and resumes after the cursor", () => {
    expect(streamUrl("http://127.0.0.1:8787", null)).toBe("ws://127.0.0.1:8787/api/v1/notifications/live");
    expect(streamUrl("https://lucid.example/", 41)).toBe("wss://lucid.example/api/v1/notifications/live?after=41");
    expect(streamUrl("http://h", 0)).toBe("ws://h/api/v1/notifications/live?after=0");
  });
});

describe("NoticeBoard", () => {
  const notice = (i: number): Notice => ({
    key: `broadcast:${i}`,
    source: "broadcast",
    at: new Date(i).toISOString(),
    severity: "info",
    title: `n${i}`,
    body: "b",
    shownOn: [],
    retracted: false,
  });

  it("keeps the cursor, the emergency state and the notices across restarts (0600, atomic)", () => {
    const dir = tempDir();
    const board = new NoticeBoard(dir, () => {});
    expect(board.cursor).toBeNull();
    board.add(notice(7), 7);
    board.update("broadcast:7", { shownOn: [":160"] });
    board.setEmergency({ ...board.emergency, lockdown: { active: true, reason: "drill", since: "2026-11-26T00:00:00.000Z" } });
    expect(statSync(noticeFile(dir)).mode & 0o777).toBe(0o600);
    const again = new NoticeBoard(dir, () => {});
    expect(again.cursor).toBe(7);
    expect(again.emergency.lockdown).toMatchObject({ active: true, reason: "drill" });
    expect(again.notices).toEqual([{ ...notice(7), shownOn: [":160"] }]);
  });

  it("keeps the newest notices only; re-adding a key replaces it", () => {
    const board = new NoticeBoard(tempDir(), () => {});
    for (let i = 1; i <= MAX_NOTICES + 5; i++) board.add(notice(i), i);
    board.add({ ...notice(MAX_NOTICES + 5), title: "again" });
    expect(board.notices).toHaveLength(MAX_NOTICES);
    expect(board.notices[0]!.key).toBe("broadcast:6");
    expect(board.notices.at(-1)).toMatchObject({ key: `broadcast:${MAX_NOTICES + 5}`, title: "again" });
  });

  it("a damaged file is reported and replaced, never trusted", () => {
    const dir = tempDir();
    writeFileSync(noticeFile(dir), JSON.stringify({ version: 1, cursor: "seven", emergency: {}, notices: [] }));
    expect(() => readBoard(dir)).toThrow(/damaged: cursor/);
    const warnings: string[] = [];
    const board = new NoticeBoard(dir, (l) => warnings.push(l));
    expect(warnings[0]).toMatch(/^warning: .*damaged.*starting with no notification history$/);
    expect(board.cursor).toBeNull();
  });
});

// Node's WebSocket fires only `error` (never `close`) when the connection or the upgrade fails: both
// clients must still back off, retry and stop on abort. A port nothing listens on is the real case.
describe("reconnecting while the server is unreachable", () => {
  const untilEvents = <E>(events: E[], n: number) =>
    until(`${n} events`, () => events.length >= n, { timeoutMs: 20_000, intervalMs: 20, detail: () => JSON.stringify(events) });

  it("the notifications stream retries with growing back-off and stops on abort", async () => {
    const events: StreamEvent[] = [];
    const noop = () => {};
    const stream = new NotificationStream({
      state: {
        server: `http://127.0.0.1:${await freePort()}`,
        credential: { header: "X-Node-Credential", token: "t", jti: "j", expiresAt: "" },
      },
      cursor: 5,
      minBackoffMs: 20,
      maxBackoffMs: 80,
      handlers: {
        emergencyState: noop,
        emergencyChange: noop,
        notification: noop,
        retraction: noop,
        retractedWhileAway: noop,
        history: noop,
        event: (e) => events.push(e),
      },
    });
    const stop = new AbortController();
    const run = stream.run(stop.signal);
    await untilEvents(events, 4);
    stop.abort();
    await run;
    const delays = events.map((e) => (e.kind === "closed" ? e.retryInMs : -1));
    expect(delays[0]).toBeGreaterThanOrEqual(16);
    expect(delays[0]).toBeLessThanOrEqual(24);
    expect(delays[3]).toBeGreaterThanOrEqual(64);
    expect(delays[3]).toBeLessThanOrEqual(80);
    expect(stream.cursor).toBe(5);
  });

  it("the RDP control channel retries too (it used to wait for a close event that never came)", async () => {
    const events: ChannelEvent[] = [];
    const state = {
      nodeId: "node-x",
      server: `http://127.0.0.1:${await freePort()}`,
      secretKey: "11".repeat(32),
      credential: { header: "X-Node-Credential", token: "t" },
    };
    const channel = new ControlChannel({
      state: state as never,
      handler: { execute: async () => {}, list: () => [], reports: () => [] },
      agentVersion: "test",
      minBackoffMs: 20,
      maxBackoffMs: 80,
      onEvent: (e) => events.push(e),
    });
    const stop = new AbortController();
    const run = channel.run(stop.signal);
    await untilEvents(events, 3);
    stop.abort();
    await run;
    expect(events.every((e) => e.kind === "closed" && e.code === 1006)).toBe(true);
  });
});
