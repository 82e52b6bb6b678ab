/**
 * Interaction events of a recording (shared/recording/events.ts): what the player lists and marks
 * on its timeline, read from the opened chunks' plain streams.
 */
import { decodeEvents, type InteractionEvent } from "../../../../shared/recording/index.ts";
import { formatBytes } from "./format.ts";

export interface TimedInteraction {
  epochMs: number;
  chunk: number;
  event: InteractionEvent;
}

/** The interaction events of one chunk's plain stream, in time order (cursor events left out). */
export function interactionsOf(plain: Uint8Array, chunk: number): TimedInteraction[] {
  const out: TimedInteraction[] = [];
  for (const e of decodeEvents(plain)) if (e.kind === "interaction") out.push({ epochMs: e.epochMs, chunk, event: e.event });
  return out;
}

/** Merges newly learnt events into the known ones: sorted by time, each (chunk, time, event) once. */
export function mergeInteractions(known: TimedInteraction[], found: TimedInteraction[]): TimedInteraction[] {
  const key = (i: TimedInteraction) => `${i.chunk}:${i.epochMs}:${JSON.stringify(i.event)}`;
  const seen = new Set(known.map(key));
  return [...known, ...found.filter((i) => !seen.has(key(i)))].sort((a, b) => a.epochMs - b.epochMs);
}

const BUTTONS: Record<number, string> = { 1: "left", 2: "middle", 3: "right" };

/** One line for an event: "focus: Budget.xlsx — LibreOffice Calc", "clicked", "typed 42 keys", "copied 2.0 KiB". */
export function describeInteraction(event: InteractionEvent): string {
  switch (event.type) {
    case "focus":
      return `focus: ${event.title || event.class || "(untitled window)"}`;
    case "click":
      return `clicked (${BUTTONS[event.button] ?? `button ${event.button}`} at ${event.x}, ${event.y})`;
    case "keys":
      return `typed ${event.count} ${event.count === 1 ? "key" : "keys"}`;
    case "text":
      return `typed “${event.text}”`;
    case "clipboard":
      return `copied ${formatBytes(event.bytes)}${event.selection === "PRIMARY" ? " (selection)" : ""}${event.text !== undefined ? `: “${event.text}”` : ""}`;
  }
}
