/**
 * Interaction events for the recording (issue #20): turns what the native capture saw on the
 * display into InteractionEvents under the session's policy. Key presses become counts a second
 * (`keys`); under `full` typed text becomes `text` events, flushed on a focus change, on Enter, at
 * the latest 5 s after its first character, and when a chunk is cut. An aggregate is stamped
 * with its last press ("so many keys, this text, up to here"): the recorder writes records in time
 * order, so nothing is held back behind frames already written.
 */
import { type InteractionEvent, type InteractionPolicy, type RecordingEvent, policyAllows } from "../../shared/recording/index.ts";
import { InputCapture, type NativeInputEvent } from "./native.ts";
import type { EventSource } from "./recorder.ts";
import { TermsCollector, type ChunkTerms } from "./terms.ts";

export const KEYS_WINDOW_MS = 1000;
export const TEXT_WINDOW_MS = 5000;
/** A text event closes before it passes the format's 4096 characters. */
const TEXT_MAX = 4000;

type Focus = { title: string; class: string };
type Timed = { epochMs: number; event: RecordingEvent };

export interface InteractionSourceOptions {
  policy: Exclude<InteractionPolicy, "none">;
  /** What reads the display: the native capture in production. */
  input: { drain(): NativeInputEvent[]; close(): void };
  /** Told once when the display goes away (the recording goes on without interaction). */
  onError?: (error: Error) => void;
}

export class InteractionSource implements EventSource {
  private readonly o: InteractionSourceOptions;
  private keys: { start: number; last: number; count: number } | null = null;
  private text: { start: number; last: number; text: string } | null = null;
  /** Events of this drain. */
  private ready: Timed[] = [];
  private focus: Focus | null = null;
  private readonly terms = new TermsCollector();
  /** Typed characters since the last word break, for the terms. */
  private word = "";
  private failed = false;

  constructor(options: InteractionSourceOptions) {
    this.o = options;
  }

  /** A source for `display` under `policy`; null under `none`, which opens nothing at all. */
  static open(display: string, policy: InteractionPolicy, onError?: (error: Error) => void): InteractionSource | null {
    if (policy === "none") return null;
    return new InteractionSource({ policy, input: InputCapture.openX11(display, policy), onError });
  }

  drain(options: { flush?: boolean } = {}): Timed[] {
    for (const e of this.read()) this.ingest(e);
    const now = Date.now();
    if (this.keys && (options.flush || now >= this.keys.start + KEYS_WINDOW_MS)) this.closeKeys();
    if (this.text && (options.flush || now >= this.text.start + TEXT_WINDOW_MS)) this.closeText();
    if (options.flush) this.breakWord();
    const out = this.ready.sort((a, b) => a.epochMs - b.epochMs);
    this.ready = [];
    return out;
  }

  snapshot(): RecordingEvent[] {
    return this.focus ? [{ kind: "interaction", event: { type: "focus", ...this.focus } }] : [];
  }

  /** The chunk's window titles (and typed words under `full`); the next chunk starts with the window in front. */
  takeTerms(): ChunkTerms {
    const taken = this.terms.take();
    if (this.focus) this.terms.addTitle(this.focus.title);
    return taken;
  }

  close(): void {
    if (!this.failed) this.o.input.close();
    this.failed = true;
  }

  private read(): NativeInputEvent[] {
    if (this.failed) return [];
    try {
      return this.o.input.drain();
    } catch (err) {
      this.failed = true;
      this.o.onError?.(err as Error);
      return [];
    }
  }

  private ingest(e: NativeInputEvent): void {
    if (e.type === "key") {
      if (this.keys && e.epochMs >= this.keys.start + KEYS_WINDOW_MS) this.closeKeys();
      this.keys ??= { start: e.epochMs, last: e.epochMs, count: 0 };
      this.keys.count++;
      this.keys.last = Math.max(this.keys.last, e.epochMs);
      if (this.o.policy === "full" && e.text) this.typed(e.epochMs, e.text);
      return;
    }
    if (e.type === "click") return this.emit(e.epochMs, { type: "click", button: e.button, x: e.x, y: e.y });
    if (e.type === "focus") {
      this.closeText();
      this.breakWord();
      this.focus = { title: e.title.slice(0, 1024), class: e.class.slice(0, 256) };
      this.terms.addTitle(this.focus.title);
      return this.emit(e.epochMs, { type: "focus", ...this.focus });
    }
    const clipboard: InteractionEvent = { type: "clipboard", selection: e.selection, bytes: e.bytes };
    if (this.o.policy === "full" && e.text !== undefined) clipboard.text = e.text.slice(0, 65536);
    this.emit(e.epochMs, clipboard);
  }

  private typed(epochMs: number, chars: string): void {
    if (this.text && epochMs >= this.text.start + TEXT_WINDOW_MS) this.closeText();
    this.text ??= { start: epochMs, last: epochMs, text: "" };
    this.text.text += chars;
    this.text.last = Math.max(this.text.last, epochMs);
    for (const ch of chars) {
      if (/[\p{L}\p{N}]/u.test(ch)) this.word += ch;
      else this.breakWord();
    }
    if (chars === "\n" || this.text.text.length >= TEXT_MAX) this.closeText();
  }

  private breakWord(): void {
    if (this.word) this.terms.addText(this.word);
    this.word = "";
  }

  private closeKeys(): void {
    if (!this.keys) return;
    this.emit(this.keys.last, { type: "keys", count: this.keys.count });
    this.keys = null;
  }

  private closeText(): void {
    if (!this.text) return;
    this.emit(this.text.last, { type: "text", text: this.text.text });
    this.text = null;
  }

  /** The policy checked once more here: the native layer is the first guard, this the second. */
  private emit(epochMs: number, event: InteractionEvent): void {
    if (!policyAllows(this.o.policy, event)) return;
    this.ready.push({ epochMs, event: { kind: "interaction", event } });
  }
}
