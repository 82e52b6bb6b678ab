import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { RecordingFormatError, decodeEvents, decodeRecording, decodeWithCursor, drawCursor } from "../../../shared/recording/index.ts";
import { readKey } from "../keyfile.ts";
import { encodePng } from "../png.ts";
import { openChunk } from "../seal.ts";
import { chunkMetaSchema } from "../spool.ts";
import { EXIT, UsageError, positiveNumber } from "./exit-codes.ts";

export const DECODE_HELP = `lucid-agent decode FILE (--png DIR | --events) [options]

Decodes a recording into one PNG per recorded frame (frame-000001.png, …). FILE is either a plain
recording stream (starts with "LREC") or a spooled chunk (chunks/N.bin, next to its N.json), which
is decrypted with the session key and decompressed first.

  --png DIR             where to write the PNGs (created if missing)
  --events              print the stream's events (interaction, cursor) as JSON lines:
                        {"t": ms into the chunk, "epochMs": …, "kind": …, …}; a cursor shape without its pixels
  --key-file FILE       data key for a sealed chunk (default: the spool's session.key)
  --max-frames N        stop after N frames
  --cursor              draw the recorded pointer over each frame (the pixels are recorded without it), and
                        write a frame for each cursor change between pixel changes too
`;

function plainBytes(file: string, keyFile: string | undefined): Uint8Array {
  const bytes = new Uint8Array(readFileSync(file));
  if (new TextDecoder().decode(bytes.subarray(0, 4)) === "LREC") return bytes;
  const metaPath = join(dirname(file), basename(file).replace(/\.bin$/, ".json"));
  if (!file.endsWith(".bin") || !existsSync(metaPath))
    throw new UsageError(`${file} is neither a recording stream nor a spooled chunk with ${metaPath}`);
  const meta = chunkMetaSchema.parse(JSON.parse(readFileSync(metaPath, "utf8")));
  const key = readKey(keyFile ?? join(dirname(file), "..", "session.key"));
  try {
    return openChunk(bytes, Buffer.from(meta.nonce, "hex"), meta.sessionId, meta.index, key);
  } catch (err) {
    throw new RecordingFormatError(`chunk ${meta.index} does not open with this key (${(err as Error).message})`, 0);
  }
}

export async function decode(argv: string[], log: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      png: { type: "string" },
      "key-file": { type: "string" },
      "max-frames": { type: "string" },
      events: { type: "boolean" },
      cursor: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return (log(DECODE_HELP), EXIT.ok);
  const file = positionals[0];
  if (!file || positionals.length > 1 || !(values.png || values.events))
    throw new UsageError("decode needs one FILE and --png DIR or --events");
  if (!existsSync(file)) throw new UsageError(`${file} does not exist`);
  const maxFrames = positiveNumber(values["max-frames"], "max-frames", Infinity, false);
  try {
    const plain = plainBytes(file, values["key-file"]);
    if (values.events) {
      for (const event of decodeEvents(plain)) {
        const { kind, t, epochMs } = event;
        const fields = event.kind === "interaction" ? event.event : event.kind === "cursor-shape" ? { ...event, argb: undefined } : event;
        log(JSON.stringify({ ...fields, t, epochMs, kind }));
      }
    }
    const png = values.png;
    if (!png) return EXIT.ok;
    mkdirSync(png, { recursive: true });
    let n = 0;
    for (const { width, height, pixels } of values.cursor ? withCursor(plain) : decodeRecording(plain)) {
      if (n >= maxFrames) break;
      n++;
      writeFileSync(join(png, `frame-${String(n).padStart(6, "0")}.png`), encodePng(width, height, pixels));
      if (n % 100 === 0) log(`${n} frames written`);
    }
    log(`${n} frames decoded into ${png}`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof RecordingFormatError) return (log(`error: ${err.message}`), EXIT.dataError);
    throw err;
  }
}

/** Every moment of the stream (pixel changes and cursor changes) with the cursor drawn over a copy of the frame. */
function* withCursor(plain: Uint8Array): Generator<{ width: number; height: number; pixels: Uint8Array }> {
  for (const { frame, cursor } of decodeWithCursor(plain)) {
    const pixels = frame.pixels.slice();
    drawCursor(pixels, frame.width, frame.height, 3, cursor);
    yield { width: frame.width, height: frame.height, pixels };
  }
}
