// A scripted office desktop for the agent benches, 1920x1080, driven by a clock (real or simulated):
//   - a wallpaper and a taskbar with a clock that ticks every second;
//   - an editor being typed into at ~5 characters a second, with a caret blinking at 2 Hz, a new
//     line every 60 characters and a page scroll (the text area redrawn) every 25 lines;
//   - a reader (a PDF-like page of ~600 words) turning a page once a minute, 20 s into the
//     minute (a fast reader: 250 words a minute would take over two);
//   - a terminal running `top`: its table of changing numbers redrawn every 3 s;
//   - idle spans: in every minute the user types for 40 s and then sits for 20 s (no typing, no
//     paging; the clock, the caret and `top` keep going);
//   - every 3 minutes the reader is closed for 30 s (the wallpaper behind it shows) and reopened.
// `at(ms)` draws everything due up to ms since start; `step(n)` is at(n × 100 ms) for 10-fps benches.
import { putImage } from "../test/node/helpers/xvfb.ts";

export const W = 1920;
export const H = 1080;
const GW = 9; // glyph cell
const GH = 18;

function fill(w, h, b, g, r) {
  const out = new Uint8Array(w * h * 4);
  for (let i = 0; i < out.length; i += 4) ((out[i] = b), (out[i + 1] = g), (out[i + 2] = r));
  return out;
}

function wallpaper() {
  const out = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      out[i] = 90 + ((x + y) >> 4);
      out[i + 1] = 60 + (y >> 3);
      out[i + 2] = 40 + (x >> 4);
    }
  return out;
}

// 96 glyphs (printable ASCII), each a deterministic 7x12 pattern in a 9x18 cell: text-like pixels.
const GLYPHS = Array.from({ length: 96 }, (_, c) => {
  const bits = new Uint8Array(GW * GH);
  if (c === 0) return bits; // space
  let s = ((c + 1) * 2654435761) >>> 0;
  for (let y = 3; y < 15; y++)
    for (let x = 1; x < 8; x++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      if ((s & 3) === 0) bits[y * GW + x] = 1;
    }
  return bits;
});

/** Draws `text` into a BGRX buffer of width `bw` at (x, y), ink on paper. */
function text(buf, bw, x, y, str, ink = [30, 30, 30], paper = [255, 255, 255]) {
  for (let k = 0; k < str.length; k++) {
    const g = GLYPHS[(str.charCodeAt(k) - 32) & 95];
    for (let gy = 0; gy < GH; gy++)
      for (let gx = 0; gx < GW; gx++) {
        const i = ((y + gy) * bw + x + k * GW + gx) * 4;
        const c = g[gy * GW + gx] ? ink : paper;
        buf[i] = c[0];
        buf[i + 1] = c[1];
        buf[i + 2] = c[2];
      }
  }
}

const WORDS =
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three".split(
    " ",
  );
function words(seed, n) {
  let s = (seed * 2246822519) >>> 0 || 1;
  let out = "";
  while (out.length < n) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out += WORDS[(s >>> 0) % WORDS.length] + " ";
  }
  return out.slice(0, n);
}

const EDITOR = { x: 80, y: 110, w: 900, h: 560, cols: 60, rows: 25 };
const READER = { x: 1040, y: 60, w: 800, h: 900 };
const TERM = { x: 80, y: 720, w: 900, h: 260 };

export class OfficeWorkload {
  constructor(display) {
    this.display = display;
    this.t = -1;
    this.typed = 0;
    this.readerOpen = true;
    this.page = 0;
  }

  put(x, y, w, h, buf) {
    putImage(this.display, x, y, w, h, buf);
  }

  start() {
    this.put(0, 0, W, H, wallpaper());
    this.put(0, H - 40, W, 40, fill(W, 40, 60, 50, 40)); // taskbar
    this.window(EDITOR, "notes.txt - Editor");
    this.put(EDITOR.x, EDITOR.y, EDITOR.w, EDITOR.h, fill(EDITOR.w, EDITOR.h, 255, 255, 255));
    this.window(TERM, "top");
    this.put(TERM.x, TERM.y, TERM.w, TERM.h, fill(TERM.w, TERM.h, 20, 20, 20));
    this.openReader();
    this.clock(0);
    this.top(0);
  }

  window({ x, y, w }, title) {
    const bar = fill(w, 30, 120, 80, 50);
    text(bar, w, 10, 6, title, [255, 255, 255], [120, 80, 50]);
    this.put(x, y - 30, w, 30, bar);
  }

  openReader() {
    this.window(READER, "report.pdf - Reader");
    this.drawPage();
  }

  drawPage() {
    const { x, y, w, h } = READER;
    const buf = fill(w, h, 250, 250, 250);
    text(buf, w, 40, 30, `Page ${this.page + 1}`, [20, 20, 120], [250, 250, 250]);
    for (let line = 0; line < 44; line++)
      text(buf, w, 40, 70 + line * 18, words(this.page * 100 + line, 80), [30, 30, 30], [250, 250, 250]);
    this.put(x, y, w, h, buf);
  }

  clock(ms) {
    const s = Math.floor(ms / 1000) + 9 * 3600 + 41 * 60;
    const hh = String(Math.floor(s / 3600) % 24).padStart(2, "0");
    const mm = String(Math.floor(s / 60) % 60).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    const buf = fill(8 * GW, GH, 60, 50, 40);
    text(buf, 8 * GW, 0, 0, `${hh}:${mm}:${ss}`, [255, 255, 255], [60, 50, 40]);
    this.put(W - 100, H - 30, 8 * GW, GH, buf);
  }

  top(ms) {
    const w = TERM.w - 20,
      h = 12 * GH;
    const buf = fill(w, h, 20, 20, 20);
    const n = Math.floor(ms / 3000);
    const green = [80, 220, 80],
      dark = [20, 20, 20];
    text(
      buf,
      w,
      0,
      0,
      `top - up 3 days, load average: ${(0.5 + (n % 7) / 10).toFixed(2)}, ${(0.4 + (n % 5) / 10).toFixed(2)}`,
      green,
      dark,
    );
    text(buf, w, 0, GH, "  PID USER      %CPU %MEM     TIME+ COMMAND", green, dark);
    for (let r = 0; r < 10; r++) {
      const cpu = ((n * 7 + r * 13) % 97) / 3;
      const line = `${String(1200 + r * 17).padStart(5)} user     ${cpu.toFixed(1).padStart(5)}  ${(r * 1.3).toFixed(1).padStart(4)}   ${String(n + r * 60).padStart(4)}:${String((n * 3 + r) % 60).padStart(2, "0")} proc${r}`;
      text(buf, w, 0, (r + 2) * GH, line, [220, 220, 220], dark);
    }
    this.put(TERM.x + 10, TERM.y + 10, w, h, buf);
  }

  caret(on) {
    const col = this.typed % EDITOR.cols,
      row = Math.floor(this.typed / EDITOR.cols) % EDITOR.rows;
    const c = on ? 0 : 255;
    this.put(EDITOR.x + 10 + col * GW, EDITOR.y + 10 + row * 20, 2, GH, fill(2, GH, c, c, c));
  }

  type() {
    this.caret(false);
    const col = this.typed % EDITOR.cols,
      row = Math.floor(this.typed / EDITOR.cols) % EDITOR.rows;
    if (col === 0 && row === 0 && this.typed > 0) this.put(EDITOR.x, EDITOR.y, EDITOR.w, EDITOR.h, fill(EDITOR.w, EDITOR.h, 255, 255, 255)); // a scroll
    const ch = words(Math.floor(this.typed / EDITOR.cols), EDITOR.cols)[col];
    const g = fill(GW, GH, 255, 255, 255);
    text(g, GW, 0, 0, ch);
    this.put(EDITOR.x + 10 + col * GW, EDITOR.y + 10 + row * 20, GW, GH, g);
    this.typed++;
    this.caret(true);
  }

  /** Draws everything due from the last call up to `ms` since the start. */
  at(ms) {
    const from = this.t;
    this.t = ms;
    const crossed = (period, offset = 0) => Math.floor((ms - offset) / period) > Math.floor((from - offset) / period);
    const active = ms % 60_000 < 40_000; // typing and paging; idle for the last 20 s of each minute
    if (crossed(1000)) this.clock(ms);
    if (crossed(3000)) this.top(ms);
    if (crossed(180_000, 150_000)) {
      this.readerOpen = false; // closed: the wallpaper shows again
      this.put(READER.x, READER.y - 30, READER.w, READER.h + 30, this.wallpaperPart());
    }
    if (crossed(180_000)) {
      if (ms > 0 && !this.readerOpen) ((this.readerOpen = true), this.openReader());
    }
    if (this.readerOpen && crossed(60_000, 20_000)) {
      this.page++;
      this.drawPage();
    }
    if (active) for (let k = Math.floor(from / 200) + 1; k <= Math.floor(ms / 200); k++) this.type();
    if (crossed(500)) this.caret(Math.floor(ms / 500) % 2 === 0);
  }

  wallpaperPart() {
    this.wall ??= wallpaper();
    const { x, y, w, h } = READER;
    const out = new Uint8Array(w * (h + 30) * 4);
    for (let r = 0; r < h + 30; r++) out.set(this.wall.subarray(((y - 30 + r) * W + x) * 4, ((y - 30 + r) * W + x + w) * 4), r * w * 4);
    return out;
  }

  /** Frame-driven use (10 frames a second). */
  step(n) {
    this.at(n * 100);
  }
}
