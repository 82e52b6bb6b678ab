// Checks a recording package (docs/package.md) from the command line: the code behind both
// `lucid verify PACKAGE` and the single-file `node lucid-verify.mjs PACKAGE` (bundled by
// scripts/build-verifier.mjs). Exit 0 when every check holds, 1 when one fails (named), 2 for
// usage or unreadable input — the same codes as `lucid verify` for an evidence bundle — and 3 when the
// recipient's passphrase or X25519 secret opens none of the package's key shares.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { parseArgs } from "node:util";
import { decodeRecording } from "../shared/recording/index.ts";
import { openChunk, PlaybackError } from "../functions/dashboard/app/lib/open-chunk.ts";
import { chunkPath } from "../shared/package/format.ts";
import { NoShareOpens, openPackageKey, parseX25519SecretKey, passphraseFromFile, type RecipientSecret } from "../shared/package/keys.ts";
import { listTar, type ByteSource } from "../shared/package/tar.ts";
import { verifyPackage, type Check } from "../shared/package/verify.ts";

export const PACKAGE_USAGE = `usage: lucid-verify PACKAGE [--genesis HASH] [--key HEX | --passphrase-file FILE | --x25519-secret-file FILE] [--json]

  PACKAGE         a recording package (GET /api/v1/sessions/:id/package, a .tar file)
  --genesis HASH  the chain's genesis hash from the deployment (dashboard: Chain; GET /api/v1/chain/stats):
                  the trust root. Without it the package's own genesis is reported, not trusted
  --key HEX       the session's data key (64 hex characters, or base64): also decrypts and decodes every
                  chunk and reports the frames it holds
  --passphrase-file FILE
                  a file holding the passphrase a key share was made with (one trailing line break is
                  ignored): opens the data key from the package's keys/ and plays as with --key
  --x25519-secret-file FILE
                  a file holding your X25519 secret key (64 hex characters or base64) a key share was
                  made for: opens the data key from the package's keys/ and plays as with --key
                  (secrets are read from files so they stay out of shell history and the process list)
  --json          print the result as JSON

exit status: 0 every check holds, 1 a check fails (the first broken link is named), 2 usage or unreadable input,
             3 the passphrase or secret key opens none of the package's key shares`;

/** Exit status when the recipient's secret opens no share of the data key. */
export const EXIT_NO_SHARE = 3;

/** A package file read by offset: only the member being checked is in memory; chunks are hashed in 1 MiB pieces. */
export function fileSource(path: string): ByteSource & { close(): void; hashRange(offset: number, size: number): string } {
  const fd = openSync(path, "r");
  const size = fstatSync(fd).size;
  return {
    size,
    async read(offset, length) {
      const buffer = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buffer, done, length - done, offset + done);
        if (n === 0) throw new Error(`${path} ends at byte ${offset + done}`);
        done += n;
      }
      return buffer;
    },
    hashRange(offset, size) {
      const hash = createHash("sha256");
      const piece = new Uint8Array(Math.min(size, 1 << 20));
      for (let done = 0; done < size;) {
        const n = readSync(fd, piece, 0, Math.min(piece.length, size - done), offset + done);
        if (n === 0) throw new Error(`${path} ends at byte ${offset + done}`);
        hash.update(piece.subarray(0, n));
        done += n;
      }
      return hash.digest("hex");
    },
    close: () => closeSync(fd),
  };
}

function parseKey(text: string): Uint8Array | null {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
  try {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    return bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
}

export async function verifyPackageCommand(argv: string[], name = "lucid-verify"): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        genesis: { type: "string" },
        key: { type: "string" },
        "passphrase-file": { type: "string" },
        "x25519-secret-file": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}\n${PACKAGE_USAGE}`);
    return 2;
  }
  if (args.values.help) {
    console.log(PACKAGE_USAGE);
    return 0;
  }
  const [file] = args.positionals;
  if (!file || args.positionals.length > 1) {
    console.error(PACKAGE_USAGE);
    return 2;
  }
  const genesis = args.values.genesis;
  if (genesis !== undefined && !/^[0-9a-fA-F]{64}$/.test(genesis)) {
    console.error(`${name}: --genesis must be a 64-character hex hash`);
    return 2;
  }
  const key = args.values.key === undefined ? undefined : parseKey(args.values.key);
  if (key === null) {
    console.error(`${name}: --key must be 32 bytes as 64 hex characters or base64`);
    return 2;
  }
  const given = [args.values.key, args.values["passphrase-file"], args.values["x25519-secret-file"]].filter((v) => v !== undefined);
  if (given.length > 1) {
    console.error(`${name}: give one of --key, --passphrase-file and --x25519-secret-file`);
    return 2;
  }
  let secret: RecipientSecret | undefined;
  try {
    secret = readSecret(args.values["passphrase-file"], args.values["x25519-secret-file"]);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}`);
    return 2;
  }
  let source;
  try {
    source = fileSource(file);
  } catch (error) {
    console.error(`${name}: cannot read ${file}: ${(error as Error).message}`);
    return 2;
  }
  const json = args.values.json ?? false;
  const print = (check: Check) => {
    if (!json) console.log(`${check.ok ? "ok  " : "FAIL"} ${check.step}: ${check.message}`);
  };
  try {
    const result = await verifyPackage(source, {
      genesis,
      hashRange: (offset, size) => source.hashRange(offset, size),
      onCheck: print,
    });
    let dataKey = key;
    if (result.ok && secret) {
      try {
        const opened = await openPackageKey(source, await listTar(source), result.info.session.id, secret);
        dataKey = opened.key;
        const check = { step: "key share", ok: true, message: `the data key opened from share ${opened.shareId} ("${opened.label}")` };
        result.checks.push(check);
        print(check);
      } catch (error) {
        if (!(error instanceof NoShareOpens)) throw error;
        if (json)
          console.log(JSON.stringify({ ...result, ok: false, failure: { step: "key share", ok: false, message: error.message } }, null, 2));
        else console.error(`${name}: no key: ${error.message}`);
        return EXIT_NO_SHARE;
      }
    }
    if (result.ok && dataKey) {
      const playback = await playAll(source, result.info.session.id, result.info.manifest.chunks, dataKey);
      result.checks.push(playback);
      print(playback);
      if (!playback.ok) {
        return report({ ok: false, checks: result.checks, failure: playback, genesisHash: result.genesisHash }, json, name);
      }
    }
    return report(result, json, name);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}`);
    return 2;
  } finally {
    source.close();
  }
}

/** The recipient's secret from the file named (read whole, never from argv). */
function readSecret(passphraseFile: string | undefined, secretFile: string | undefined): RecipientSecret | undefined {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new Error(`cannot read the ${what} file ${path}: ${(error as Error).message}`);
    }
  };
  if (passphraseFile !== undefined) {
    const passphrase = passphraseFromFile(read(passphraseFile, "passphrase"));
    if (!passphrase) throw new Error(`the passphrase file ${passphraseFile} is empty`);
    return { passphrase };
  }
  if (secretFile !== undefined) {
    try {
      return { secretKey: parseX25519SecretKey(read(secretFile, "X25519 secret")) };
    } catch (error) {
      throw new Error(`${secretFile}: ${(error as Error).message}`);
    }
  }
  return undefined;
}

function report(result: { ok: boolean; checks: Check[]; failure?: Check; genesisHash?: string }, json: boolean, name: string): number {
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    if (result.genesisHash) console.log(`genesis ${result.genesisHash}`);
    if (!result.ok && result.failure) console.error(`${name}: FAILED at ${result.failure.step}: ${result.failure.message}`);
  }
  return result.ok ? 0 : 1;
}

/** Decrypts and decodes every chunk with the data key; counts frames. */
async function playAll(source: ByteSource, sessionId: string, chunks: Parameters<typeof openChunk>[1][], key: Uint8Array): Promise<Check> {
  const members = new Map((await listTar(source)).map((m) => [m.name, m]));
  let frames = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const chunk of chunks) {
    const m = members.get(chunkPath(chunk.index))!;
    try {
      const plain = await openChunk(sessionId, chunk, key, await source.read(m.offset, m.size));
      for (const frame of decodeRecording(plain)) {
        frames++;
        first = Math.min(first, frame.epochMs);
        last = Math.max(last, frame.epochMs);
      }
    } catch (error) {
      const message = error instanceof PlaybackError ? error.message : `chunk ${chunk.index} does not decode: ${(error as Error).message}`;
      return { step: "playback", ok: false, message };
    }
  }
  const span = frames ? `, ${new Date(first).toISOString()} to ${new Date(last).toISOString()}` : "";
  return { step: "playback", ok: true, message: `${chunks.length} chunks decrypt and decode with the key: ${frames} frames${span}` };
}
