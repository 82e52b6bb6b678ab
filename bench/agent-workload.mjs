// A scripted office-like desktop for the agent benches: wallpaper, an editor window being typed
// into (~5 characters a second) with a blinking caret, a scroll every 30 s, and a switch to a
// picture-heavy browser window and back every 2 minutes. Driven by frame number, not wall time.
import { noise, putImage } from "../test/node/helpers/xvfb.ts";

export const W = 1920;
export const H = 1080;
const FPS = 10;

function fill(w, h, b, g, r) {
  const out = new Uint8Array(w * h * 4);
  for (let i = 0; i < out.length; i += 4) (out[i] = b), (out[i + 1] = g), (out[i + 2] = r);
  return out;
}

function wallpaper() {
  const out = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = (y * W + x) * 4;
    out[i] = 90 + ((x + y) >> 4); out[i + 1] = 60 + (y >> 3); out[i + 2] = 40 + (x >> 4);
  }
  return out;
}

function glyph(seed) {
  const g = fill(9, 18, 255, 255, 255);
  let s = seed * 2654435761 >>> 0 || 1;
  for (let y = 3; y < 15; y++) for (let x = 1; x < 8; x++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    if ((s & 3) === 0) { const i = (y * 9 + x) * 4; g[i] = g[i + 1] = g[i + 2] = 30; }
  }
  return g;
}

export class OfficeWorkload {
  constructor(display) {
    this.display = display;
    this.col = 0;
    this.row = 0;
    this.browser = false;
    this.editor = { x: 200, y: 150, w: 1100, h: 700 };
  }

  start() {
    putImage(this.display, 0, 0, W, H, wallpaper());
    this.drawEditor();
  }

  drawEditor() {
    const { x, y, w, h } = this.editor;
    putImage(this.display, x, y - 30, w, 30, fill(w, 30, 120, 80, 50)); // title bar
    putImage(this.display, x, y, w, h, fill(w, h, 255, 255, 255));
    this.col = 0;
    this.row = 0;
  }

  drawBrowser() {
    const { x, y, w, h } = this.editor;
    putImage(this.display, x, y, w, h, fill(w, h, 245, 245, 245));
    putImage(this.display, x + 40, y + 40, 480, 320, noise(480, 320, 99).bgrx); // a photo
    for (let i = 0; i < 12; i++) putImage(this.display, x + 560, y + 40 + i * 30, 480, 12, fill(480, 12, 90, 90, 90));
  }

  /** Advances the script to frame n. */
  step(n) {
    const t = n / FPS;
    if (n > 0 && n % (120 * FPS) === 0) {
      this.browser = !this.browser;
      if (this.browser) this.drawBrowser();
      else this.drawEditor();
      return;
    }
    if (this.browser) return;
    const { x, y } = this.editor;
    if (n > 0 && n % (30 * FPS) === 0) {
      this.drawEditor(); // a scroll: the page redraws
      return;
    }
    if (n % 2 === 0) {
      putImage(this.display, x + 10 + this.col * 9, y + 10 + this.row * 20, 9, 18, glyph(n));
      if (++this.col >= 110) (this.col = 0), this.row = (this.row + 1) % 33;
    }
    const caretOn = Math.floor(t * 2) % 2 === 0;
    putImage(this.display, x + 19 + this.col * 9, y + 10 + this.row * 20, 2, 18, fill(2, 18, caretOn ? 0 : 255, caretOn ? 0 : 255, caretOn ? 0 : 255));
  }
}
