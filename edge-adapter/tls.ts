// TLS material for the HTTPS socket: a self-signed ECDSA P-256 certificate made with the system's
// openssl (Debian package `openssl`), or the operator's own certificate and key, checked to match.
import { spawnSync } from "node:child_process";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";

export const CERT_FILE = "cert.pem";
export const KEY_FILE = "key.pem";
export const PINS_FILE = "pins.json";

export interface TlsFiles {
  certPath: string;
  keyPath: string;
}

/** What an operator pins in the Electron GUI (docs/self-hosting.md "HTTPS and pinning"). */
export interface CertificatePins {
  /** Electron's `certificate.fingerprint`: "sha256/" + base64(SHA-256 of the DER certificate). */
  fingerprint: string;
  /** The same digest as colon-separated hex, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprintHex: string;
  /** "sha256/" + base64(SHA-256 of the DER SubjectPublicKeyInfo): survives re-issuing with the same key. */
  spki: string;
  subject: string;
  subjectAltName: string;
  validTo: string;
}

const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** SubjectAltName entries: always localhost, 127.0.0.1 and ::1, plus the operator's host names or IPs. */
export function subjectAltNames(extraNames: readonly string[]): string[] {
  const entries = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"];
  for (const name of extraNames) {
    let entry: string;
    if (isIP(name)) entry = `IP:${name}`;
    else if (HOSTNAME.test(name)) entry = `DNS:${name.toLowerCase()}`;
    else throw new Error(`"${name}" is neither a host name nor an IP address`);
    if (!entries.includes(entry)) entries.push(entry);
  }
  return entries;
}

/** Writes a new self-signed certificate and key (0600) into `dir`; returns their paths. */
export function generateSelfSigned(dir: string, options: { hostnames: readonly string[]; days?: number }): TlsFiles {
  const days = options.days ?? 825;
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(`days must be an integer in 1..3650 (got ${days})`);
  const sans = subjectAltNames(options.hostnames);
  const commonName = options.hostnames[0] ?? "localhost";
  mkdirSync(dir, { recursive: true });
  const files = { certPath: join(dir, CERT_FILE), keyPath: join(dir, KEY_FILE) };
  const run = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-sha256",
      "-days",
      String(days),
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      `subjectAltName=${sans.join(",")}`,
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "keyUsage=critical,digitalSignature",
      "-addext",
      "extendedKeyUsage=serverAuth",
      "-keyout",
      files.keyPath,
      "-out",
      files.certPath,
    ],
    { encoding: "utf8" },
  );
  if (run.error) throw new Error(`openssl could not run (${run.error.message}); install the Debian package "openssl"`);
  if (run.status !== 0) throw new Error(`openssl failed:\n${run.stderr}`);
  chmodSync(files.keyPath, 0o600);
  return files;
}

/** Copies the operator's certificate chain and key into `dir` after checking that they belong together. */
export function importOperatorCertificate(dir: string, source: TlsFiles): TlsFiles {
  for (const path of [source.certPath, source.keyPath]) if (!existsSync(path)) throw new Error(`${path} does not exist`);
  checkKeypair(readFileSync(source.certPath, "utf8"), readFileSync(source.keyPath, "utf8"));
  mkdirSync(dir, { recursive: true });
  const files = { certPath: join(dir, CERT_FILE), keyPath: join(dir, KEY_FILE) };
  copyFileSync(source.certPath, files.certPath);
  copyFileSync(source.keyPath, files.keyPath);
  chmodSync(files.keyPath, 0o600);
  return files;
}

/** Throws unless the first certificate of the PEM chain is currently valid and matches the private key. */
export function checkKeypair(certChainPem: string, keyPem: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certChainPem);
  } catch {
    throw new Error("the certificate is not a PEM X.509 certificate");
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new Error("the key is not an unencrypted PEM private key");
  }
  if (!cert.checkPrivateKey(key)) throw new Error("the private key does not belong to the certificate");
  if (Date.parse(cert.validTo) < Date.now()) throw new Error(`the certificate expired on ${cert.validTo}`);
  return cert;
}

export function certificatePins(certPem: string): CertificatePins {
  const cert = new X509Certificate(certPem);
  const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("base64");
  const spkiDer = cert.publicKey.export({ type: "spki", format: "der" });
  return {
    fingerprint: `sha256/${sha256(cert.raw)}`,
    fingerprintHex: cert.fingerprint256,
    spki: `sha256/${sha256(spkiDer)}`,
    subject: cert.subject,
    subjectAltName: cert.subjectAltName ?? "",
    validTo: cert.validTo,
  };
}

/** Writes pins.json next to the certificate so the operator can copy them into the GUI build. */
export function writePins(files: TlsFiles, dir: string): CertificatePins {
  const pins = certificatePins(readFileSync(files.certPath, "utf8"));
  writeFileSync(join(dir, PINS_FILE), `${JSON.stringify(pins, null, 2)}\n`);
  return pins;
}
