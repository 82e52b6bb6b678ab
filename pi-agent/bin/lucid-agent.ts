#!/usr/bin/env node
/** lucid-agent: the Pi agent's command line. Exit codes: see lib/cli/exit-codes.ts. */
import { DECODE_HELP, decode } from "../lib/cli/decode.ts";
import { DOCTOR_HELP, doctor } from "../lib/cli/doctor.ts";
import { ENROLL_HELP, enroll } from "../lib/cli/enroll.ts";
import { EXIT, UsageError } from "../lib/cli/exit-codes.ts";
import { RECORD_HELP, record } from "../lib/cli/record.ts";
import { RUN_HELP, run } from "../lib/cli/run.ts";
import { STATUS_HELP, status } from "../lib/cli/status.ts";
import { UPLOAD_HELP, upload } from "../lib/cli/upload.ts";

const HELP = `lucid-agent <command> [options]   (lucid-agent <command> --help for details)

  record --display :N --out DIR   record a display into encrypted chunks (and upload them)
  upload --out DIR --server URL   upload what is left in a spool
  decode FILE --png DIR           decode a recording or a spooled chunk into PNG frames
  status --out DIR | --state DIR  a spool's pending chunks, or what the node daemon was told
  enroll --server URL …           register this machine as a node (Ed25519 key, node API)
  run                             node daemon: heartbeats, RDP agent channel, xrdp servers, recording
  doctor                          check this machine is ready for Lucid (page size, VA bits, X, xrdp, clock…)

Exit codes: 0 ok, 1 failure, 64 usage, 65 corrupt data or wrong key, 69 capture/service unavailable,
73 spool full, 76 chunk refused by the server, 77 node refused by the node API.
`;

const log = (line: string) => process.stderr.write(line + "\n");
const commands: Record<string, { run: (argv: string[], log: (l: string) => void) => Promise<number>; help: string }> = {
  record: { run: record, help: RECORD_HELP },
  upload: { run: upload, help: UPLOAD_HELP },
  decode: { run: decode, help: DECODE_HELP },
  status: { run: status, help: STATUS_HELP },
  enroll: { run: enroll, help: ENROLL_HELP },
  run: { run, help: RUN_HELP },
  doctor: { run: doctor, help: DOCTOR_HELP },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands[name];
  if (!command) {
    log(`error: unknown command "${name}"\n\n${HELP}`);
    return EXIT.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, name === "status" || name === "doctor" ? (l) => process.stdout.write(l + "\n") : log);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      log(`error: ${(err as Error).message}\n\n${command.help}`);
      return EXIT.usage;
    }
    log(`error: ${(err as Error).message}`);
    return EXIT.failure;
  }
}

process.exitCode = await main(process.argv.slice(2));
