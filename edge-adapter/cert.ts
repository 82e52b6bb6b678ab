#!/usr/bin/env node
// npm run pi:cert — makes the HTTPS socket's certificate (self-signed ECDSA P-256) or imports the
// operator's, and prints the pins the Electron GUI checks (docs/self-hosting.md "HTTPS and pinning").
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CERT_FILE, generateSelfSigned, importOperatorCertificate, KEY_FILE, writePins } from "./tls.ts";

const USAGE = `usage: npm run pi:cert -- [--out out/pi/tls] [--hostname lucid.local]... [--days 825] [--force]
       npm run pi:cert -- [--out out/pi/tls] --cert /path/fullchain.pem --key /path/privkey.pem`;

try {
  const { values } = parseArgs({
    options: {
      out: { type: "string", default: "out/pi/tls" },
      hostname: { type: "string", multiple: true, default: [] },
      days: { type: "string", default: "825" },
      cert: { type: "string" },
      key: { type: "string" },
      force: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const dir = resolve(values.out!);
  if ((values.cert === undefined) !== (values.key === undefined)) throw new Error("--cert and --key go together");
  let files;
  if (values.cert !== undefined && values.key !== undefined) {
    files = importOperatorCertificate(dir, { certPath: resolve(values.cert), keyPath: resolve(values.key) });
  } else {
    // A new key changes the pins every GUI build carries: never replace one silently.
    if (!values.force && (existsSync(join(dir, KEY_FILE)) || existsSync(join(dir, CERT_FILE)))) {
      throw new Error(`${dir} already holds a certificate; pass --force to replace it (the GUI pins change)`);
    }
    files = generateSelfSigned(dir, { hostnames: values.hostname!, days: Number(values.days) });
  }
  const pins = writePins(files, dir);
  console.log(`certificate: ${files.certPath}
private key: ${files.keyPath} (mode 0600)
subject alt names: ${pins.subjectAltName}
valid until: ${pins.validTo}
pin in the Electron GUI (certificate.fingerprint): ${pins.fingerprint}
SHA-256 fingerprint: ${pins.fingerprintHex}
SPKI pin (same key, re-issued certificates): ${pins.spki}
(also written to ${join(dir, "pins.json")})`);
} catch (error) {
  console.error(`pi:cert failed: ${error instanceof Error ? error.message : error}\n${USAGE}`);
  process.exit(2);
}
