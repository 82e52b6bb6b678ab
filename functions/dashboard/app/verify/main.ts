/**
 * The standalone verifier and player (verify.html, docs/package.md): one self-contained page, no
 * network. Opens a recording package from disk, runs the same checks as lucid-verify.mjs
 * (shared/package/verify.ts) and shows each; given the data key, or the passphrase / X25519 secret key
 * one of the package's key shares was made for (shared/package/keys.ts), plays the recording with seek
 * (the dashboard's decoder and canvas approach). Built by scripts/build-verifier.mjs.
 */
import { chunkPath } from "../../../../shared/package/format.ts";
import { openPackageKey, parseX25519SecretKey, type RecipientSecret } from "../../../../shared/package/keys.ts";
import { listTar, type ByteSource, type TarMember } from "../../../../shared/package/tar.ts";
import { verifyPackage, type PackageResult } from "../../../../shared/package/verify.ts";
import type { ManifestChunk } from "../../../../shared/session.ts";
import { frameInChunk, fromBase64, openChunk } from "../lib/open-chunk.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const fileInput = $<HTMLInputElement>("package");
const genesisInput = $<HTMLInputElement>("genesis");
const keyInput = $<HTMLInputElement>("key");
const passphraseInput = $<HTMLInputElement>("passphrase");
const secretInput = $<HTMLInputElement>("x25519-secret");
const keyStatus = $<HTMLParagraphElement>("key-status");
const checksList = $<HTMLOListElement>("checks");
const result = $<HTMLParagraphElement>("result");
const player = $<HTMLElement>("player");
const canvas = $<HTMLCanvasElement>("screen");
const seek = $<HTMLInputElement>("seek");
const playButton = $<HTMLButtonElement>("play");
const time = $<HTMLSpanElement>("time");
const playError = $<HTMLParagraphElement>("play-error");

let file: File | null = null;
let verified: Extract<PackageResult, { ok: true }> | null = null;
let run = 0;

const fileSource = (f: File): ByteSource => ({
  size: f.size,
  read: async (offset, length) => new Uint8Array(await f.slice(offset, offset + length).arrayBuffer()),
});

async function verify(): Promise<void> {
  if (!file) return;
  const mine = ++run;
  verified = null;
  player.hidden = true;
  checksList.replaceChildren();
  keyStatus.textContent = "";
  keyStatus.dataset.ok = "";
  result.textContent = "Checking…";
  result.dataset.ok = "";
  const genesis = genesisInput.value.trim() || undefined;
  if (genesis && !/^[0-9a-fA-F]{64}$/.test(genesis)) {
    result.textContent = "The genesis hash must be 64 hex characters.";
    result.dataset.ok = "false";
    return;
  }
  const outcome = await verifyPackage(fileSource(file), {
    genesis,
    onCheck: (check) => {
      if (mine !== run) return;
      const li = document.createElement("li");
      li.dataset.step = check.step;
      li.dataset.ok = String(check.ok);
      li.textContent = `${check.ok ? "✔" : "✘"} ${check.step}: ${check.message}`;
      checksList.appendChild(li);
    },
  });
  if (mine !== run) return;
  result.dataset.ok = String(outcome.ok);
  result.dataset.step = outcome.ok ? "" : outcome.failure.step;
  result.textContent = outcome.ok
    ? `Every check passed. Genesis ${outcome.genesisHash}${genesis ? " (the trusted one)" : " — compare it with the deployment's"}.`
    : `FAILED at ${outcome.failure.step}: ${outcome.failure.message}`;
  if (outcome.ok) {
    verified = outcome;
    await openPlayer();
  }
}

// ---- player -----------------------------------------------------------------------------------

interface Player {
  sessionId: string;
  chunks: ManifestChunk[];
  members: Map<string, TarMember>;
  key: Uint8Array;
  cache: Map<number, Promise<Uint8Array>>;
}
let current: Player | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

function parseKey(text: string): Uint8Array {
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Uint8Array.from(t.match(/../g)!, (b) => parseInt(b, 16)) : fromBase64(t);
  if (bytes.length !== 32) throw new Error("the data key must be 32 bytes (64 hex characters or base64)");
  return bytes;
}

/** The secret given for the package's key shares, if any (the data key field wins). */
function recipientSecret(): RecipientSecret | null {
  if (passphraseInput.value) return { passphrase: passphraseInput.value };
  if (secretInput.value.trim()) return { secretKey: parseX25519SecretKey(secretInput.value) };
  return null;
}

async function openPlayer(): Promise<void> {
  if (!verified || !file) return;
  const mine = run;
  playError.textContent = "";
  keyStatus.textContent = "";
  keyStatus.dataset.ok = "";
  try {
    const manifest = verified.info.manifest;
    const source = fileSource(file);
    const members = await listTar(source);
    let key: Uint8Array;
    if (keyInput.value.trim()) key = parseKey(keyInput.value);
    else {
      try {
        const secret = recipientSecret();
        if (!secret) return;
        keyStatus.textContent = "Opening the data key from the package's key shares…";
        key = (await openPackageKey(source, members, verified.info.session.id, secret)).key;
      } catch (error) {
        if (mine === run) {
          current = null;
          player.hidden = true;
          keyStatus.textContent = `No key: ${(error as Error).message}`;
          keyStatus.dataset.ok = "false";
        }
        return;
      }
      if (mine !== run) return;
      keyStatus.textContent = "The data key opened from the package's key share.";
      keyStatus.dataset.ok = "true";
    }
    current = {
      sessionId: verified.info.session.id,
      chunks: [...manifest.chunks].sort((a, b) => a.index - b.index),
      members: new Map(members.map((m) => [m.name, m])),
      key,
      cache: new Map(),
    };
    const first = current.chunks[0]!;
    const last = current.chunks.at(-1)!;
    seek.min = String(first.captureStart);
    seek.max = String(last.captureEnd);
    seek.value = seek.min;
    player.hidden = false;
    await show(first.captureStart);
  } catch (error) {
    current = null;
    playError.textContent = (error as Error).message;
  }
}

function plain(p: Player, chunk: ManifestChunk): Promise<Uint8Array> {
  let pending = p.cache.get(chunk.index);
  if (!pending) {
    const m = p.members.get(chunkPath(chunk.index))!;
    pending = file!
      .slice(m.offset, m.offset + m.size)
      .arrayBuffer()
      .then((sealed) => openChunk(p.sessionId, chunk, p.key, new Uint8Array(sealed)));
    p.cache.set(chunk.index, pending);
    while (p.cache.size > 2) p.cache.delete(p.cache.keys().next().value!);
  }
  return pending;
}

/** Draws the frame shown at `epochMs`: decodes the chunk holding it up to its last record at or before that time. */
async function show(epochMs: number): Promise<void> {
  const p = current;
  if (!p) return;
  let chunk = p.chunks[0]!;
  for (const c of p.chunks) if (c.captureStart <= epochMs) chunk = c;
  try {
    const bytes = await plain(p, chunk);
    // The frame at or before that time, with the recorded cursor drawn over its cursor-free pixels.
    const frame = frameInChunk(bytes, epochMs);
    if (frame) {
      canvas.width = frame.width;
      canvas.height = frame.height;
      const rgba = new Uint8ClampedArray(frame.width * frame.height * 4);
      rgba.set(frame.rgba);
      canvas.getContext("2d")!.putImageData(new ImageData(rgba, frame.width, frame.height), 0, 0);
      canvas.dataset.frameMs = String(frame.epochMs);
      time.textContent = new Date(frame.epochMs).toISOString();
    }
  } catch (error) {
    playError.textContent = (error as Error).message;
    stop();
  }
}

function stop(): void {
  if (timer) clearInterval(timer);
  timer = null;
  playButton.textContent = "Play";
}

playButton.addEventListener("click", () => {
  if (timer) return stop();
  playButton.textContent = "Pause";
  timer = setInterval(() => {
    const next = Number(seek.value) + 100;
    if (next > Number(seek.max)) return stop();
    seek.value = String(next);
    void show(next);
  }, 100);
});
seek.addEventListener("input", () => void show(Number(seek.value)));
for (const input of [keyInput, passphraseInput, secretInput]) input.addEventListener("change", () => void openPlayer());
genesisInput.addEventListener("change", () => void verify());
fileInput.addEventListener("change", () => {
  file = fileInput.files?.[0] ?? null;
  void verify();
});
document.body.addEventListener("dragover", (event) => event.preventDefault());
document.body.addEventListener("drop", (event) => {
  event.preventDefault();
  file = event.dataTransfer?.files[0] ?? null;
  void verify();
});
