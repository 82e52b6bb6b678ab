import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  InteractionEvent,
  RecordType,
  RecordingEncoder,
  RecordingFormatError,
  decodeEvents,
  decodeRecording,
  encodeEventRecord,
  encodeRecord,
  policyAllows,
  type RecordingEvent,
} from "../../shared/recording/index.ts";

const V1 = new Uint8Array(readFileSync(new URL("../fixtures/recording-v1.lrec", import.meta.url)));

function lastFrame(bytes: Uint8Array) {
  let last: Uint8Array | null = null;
  let count = 0;
  for (const frame of decodeRecording(bytes)) {
    last = frame.pixels.slice();
    count++;
  }
  return { last, count };
}

describe("recording stream version 2: events beside the pixels", () => {
  it("still reads a version-1 stream written before events (fixture), which has none", () => {
    expect(V1[4]).toBe(1);
    const { last, count } = lastFrame(V1);
    expect(count).toBe(3);
    expect(last!.length).toBe(40 * 24 * 3);
    expect(decodeEvents(V1)).toEqual([]);
  });

  it("round-trips every event kind with its time, and frames are the same as without them", () => {
    const start = 1_700_000_000_000;
    const frame = { width: 16, height: 8, pixels: new Uint8Array(16 * 8 * 3).fill(9) };
    const changed = { ...frame, pixels: frame.pixels.map((v, i) => (i < 30 ? 200 : v)) };
    const events: Array<[number, RecordingEvent]> = [
      [0, { kind: "cursor-shape", serial: 7, width: 2, height: 1, xhot: 1, yhot: 0, argb: new Uint8Array([1, 2, 3, 255, 4, 5, 6, 128]) }],
      [0, { kind: "cursor-move", x: -3, y: 700 }],
      [40, { kind: "interaction", event: { type: "focus", title: "Budget 2027.xlsx – LibreOffice Calc", class: "libreoffice-calc" } }],
      [60, { kind: "interaction", event: { type: "click", button: 1, x: 10, y: 4 } }],
      [80, { kind: "interaction", event: { type: "keys", count: 12 } }],
      [90, { kind: "interaction", event: { type: "clipboard", selection: "CLIPBOARD", bytes: 2048 } }],
    ];
    const plain = new RecordingEncoder({ startEpochMs: start, tileSize: 8 });
    const withEvents = new RecordingEncoder({ startEpochMs: start, tileSize: 8 });
    plain.add(frame, start);
    withEvents.add(frame, start);
    for (const [t, e] of events) withEvents.addEventRecord(encodeEventRecord(t, e));
    plain.add(changed, start + 100);
    withEvents.add(changed, start + 100);
    expect(withEvents.bytes()[4]).toBe(2);
    expect(lastFrame(withEvents.bytes())).toEqual(lastFrame(plain.bytes()));
    const decoded = decodeEvents(withEvents.bytes());
    expect(decoded.map(({ t, epochMs, ...e }) => [t, epochMs - start, e])).toEqual(events.map(([t, e]) => [t, t, e]));
  });

  it("skips an event kind it does not know, and refuses malformed events with the offset", () => {
    const enc = new RecordingEncoder({ startEpochMs: 0, tileSize: 8 });
    enc.addEventRecord(encodeRecord(RecordType.event, 0, new Uint8Array([99, 1, 2, 3])));
    expect(decodeEvents(enc.bytes())).toEqual([]);
    const bad = new RecordingEncoder({ startEpochMs: 0, tileSize: 8 });
    bad.addEventRecord(encodeRecord(RecordType.event, 0, new Uint8Array([3, ...new TextEncoder().encode('{"type":"keys","count":0}')])));
    expect(() => decodeEvents(bad.bytes())).toThrow(RecordingFormatError);
    const short = new RecordingEncoder({ startEpochMs: 0, tileSize: 8 });
    short.addEventRecord(encodeRecord(RecordType.event, 0, new Uint8Array([1, 0, 0])));
    expect(() => decodeEvents(short.bytes())).toThrow(/cursor-move/);
  });

  it("a version-1 stream may not carry event records", () => {
    const v1 = new Uint8Array([...V1, ...encodeEventRecord(300, { kind: "cursor-move", x: 1, y: 1 })]);
    expect(() => [...decodeRecording(v1)]).toThrow(/unknown record type 3/);
  });

  it("policies: none allows nothing, metadata never typed or copied text, full everything", () => {
    const all: InteractionEvent[] = [
      { type: "focus", title: "t", class: "c" },
      { type: "click", button: 1, x: 0, y: 0 },
      { type: "keys", count: 1 },
      { type: "text", text: "secret" },
      { type: "clipboard", selection: "CLIPBOARD", bytes: 6 },
      { type: "clipboard", selection: "CLIPBOARD", bytes: 6, text: "secret" },
    ];
    expect(all.filter((e) => policyAllows("none", e))).toEqual([]);
    expect(all.filter((e) => policyAllows("metadata", e)).map((e) => e.type)).toEqual(["focus", "click", "keys", "clipboard"]);
    expect(all.filter((e) => policyAllows("full", e))).toEqual(all);
  });
});
