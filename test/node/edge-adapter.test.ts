// The edge adapter's pure parts: certificate names and pins, the legacy path rewrite, config checks.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LEGACY_PORTS, validateLegacyPorts } from "../../edge-adapter/legacy-ports.ts";
import { defaultUnitOptions, renderUnits } from "../../edge-adapter/units.ts";
import { ROOT } from "../../edge-adapter/workerd-process.ts";
import { certificatePins, checkKeypair, generateSelfSigned, subjectAltNames } from "../../edge-adapter/tls.ts";
import { generateWorkerdConfig } from "../../edge-adapter/workerd-config.ts";
import { legacyPath } from "../../edge-adapter/workers/legacy-router.js";
import type { WranglerConfig } from "../../edge-adapter/wrangler-config.ts";

const work = mkdtempSync(join(tmpdir(), "lucid-edge-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("certificates", () => {
  it("always covers localhost and loopback, plus the operator's names", () => {
    expect(subjectAltNames(["Lucid.Local", "192.168.1.50", "fe80::1"])).toEqual([
      "DNS:localhost",
      "IP:127.0.0.1",
      "IP:::1",
      "DNS:lucid.local",
      "IP:192.168.1.50",
      "IP:fe80::1",
    ]);
    expect(() => subjectAltNames(["bad name"])).toThrow(/neither a host name/);
    expect(() => subjectAltNames(["a,IP:1.2.3.4"])).toThrow();
  });

  it("makes an ECDSA P-256 certificate whose pins are stable digests of it", () => {
    const files = generateSelfSigned(join(work, "tls"), { hostnames: ["pi.example"] });
    const pem = readFileSync(files.certPath, "utf8");
    const cert = checkKeypair(pem, readFileSync(files.keyPath, "utf8"));
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    const pins = certificatePins(pem);
    expect(pins.subjectAltName).toContain("DNS:pi.example");
    expect(certificatePins(pem)).toEqual(pins);
    const other = generateSelfSigned(join(work, "tls2"), { hostnames: [] });
    expect(certificatePins(readFileSync(other.certPath, "utf8")).spki).not.toBe(pins.spki);
    // A key from another certificate is refused.
    expect(() => checkKeypair(pem, readFileSync(other.keyPath, "utf8"))).toThrow(/does not belong/);
  });
});

describe("legacy port map", () => {
  it("maps /api/v1/<path> onto the port's surface and leaves everything else alone", () => {
    expect(legacyPath("/api/v1/blocks/latest", "/api/v1/chain")).toBe("/api/v1/chain/blocks/latest");
    expect(legacyPath("/api/v1", "/api/v1/chain")).toBe("/api/v1/chain");
    expect(legacyPath("/api/v1/chain/blocks", "/api/v1/chain")).toBe("/api/v1/chain/blocks");
    expect(legacyPath("/api/v1/chainlink", "/api/v1/chain")).toBe("/api/v1/chain/chainlink");
    expect(legacyPath("/api/v1/sessions/x", "/api/v1")).toBe("/api/v1/sessions/x");
    expect(legacyPath("/health", "/api/v1/nodes")).toBe("/health");
    expect(legacyPath("/api/v10/x", "/api/v1/nodes")).toBe("/api/v10/x");
  });

  it("has the seed's eight GUI ports and rejects a broken map", () => {
    expect(LEGACY_PORTS.map((p) => p.port)).toEqual([8080, 8083, 8084, 8087, 8091, 8093, 8095, 8097]);
    expect(() => validateLegacyPorts(LEGACY_PORTS)).not.toThrow();
    expect(() => validateLegacyPorts([...LEGACY_PORTS, { name: "again", port: 8084, target: "/api/v1" }])).toThrow(/twice/);
    expect(() => validateLegacyPorts([{ name: "x", port: 8084, target: "/admin" }])).toThrow(/under \/api\/v1/);
  });
});

describe("generated workerd config", () => {
  const bundleDir = join(work, "bundle");
  mkdirSync(bundleDir, { recursive: true });
  writeFileSync(join(bundleDir, "index.js"), "export default {}");
  const wrangler: WranglerConfig = {
    name: "lucid",
    main: "functions/index.ts",
    compatibilityDate: "2026-11-01",
    compatibilityFlags: [],
    vars: {},
    durableObjects: [{ binding: "SYSTEM", className: "SystemDO" }],
    r2Buckets: [],
  };
  const base = { wrangler, bundleDir, configDir: work, dataDir: join(work, "data"), httpAddress: "127.0.0.1:8080", secrets: [] };
  const legacy = { host: "0.0.0.0", ports: LEGACY_PORTS, routerPath: join(work, "legacy-router.js") };

  it("binds the chunk disk and opens the HTTPS socket with the embedded key pair", () => {
    const config = generateWorkerdConfig({
      ...base,
      https: { address: "0.0.0.0:8443", certPath: join(work, "tls", "cert.pem"), keyPath: join(work, "tls", "key.pem") },
    });
    expect(config).toContain(`(name = "chunk-disk", disk = (path = ${JSON.stringify(join(work, "data", "chunks"))}, writable = true))`);
    expect(config).toContain(`(name = "CHUNK_DISK", service = "chunk-disk")`);
    expect(config).toContain(`privateKey = embed "tls/key.pem", certificateChain = embed "tls/cert.pem"`);
  });

  it("skips the legacy gateway port the HTTP socket already serves, and refuses real clashes", () => {
    const config = generateWorkerdConfig({ ...base, legacy });
    expect(config).not.toContain(`"legacy-gateway"`);
    expect(config).toContain(`address = "0.0.0.0:8084", http = (), service = "legacy-blockchain"`);
    expect(() => generateWorkerdConfig({ ...base, httpAddress: "127.0.0.1:8084", legacy })).toThrow(/clashes/);
    expect(() => generateWorkerdConfig({ ...base, https: { address: "[::]:8080", certPath: "/c", keyPath: "/k" } })).toThrow(
      /both use port 8080/,
    );
    expect(() => generateWorkerdConfig({ ...base, httpAddress: "8080" })).toThrow(/host:port/);
  });

  it("no socket reads request.cf from a header: workerd's socket peer stays the client address", () => {
    // With a cfBlobHeader, workerd would take request.cf (clientIp included) from whatever the
    // client sends in that header; without one it writes {"clientIp": "<peer>"} itself.
    const config = generateWorkerdConfig({
      ...base,
      legacy,
      https: { address: "0.0.0.0:8443", certPath: join(work, "tls", "cert.pem"), keyPath: join(work, "tls", "key.pem") },
    });
    expect(config).not.toMatch(/cfBlobHeader|injectRequestHeaders|forwardedProtoHeader/);
    const plain = [...config.matchAll(/\(name = "([^"]+)", address = [^,]+, http = \(([^)]*)\)/g)];
    expect(plain.map((m) => m[1])).toEqual(expect.arrayContaining(["http", "legacy-blockchain"]));
    for (const [, name, options] of plain) expect(`${name}: http = (${options})`).toBe(`${name}: http = ()`);
    expect(config).toContain("https = (options = (), tlsOptions = ");
  });
});

describe("systemd units", () => {
  it("renders both units with every placeholder filled and the hardening in place", () => {
    const units = renderUnits(defaultUnitOptions("/opt/lucid"));
    for (const text of Object.values(units)) {
      expect(text).not.toMatch(/@[A-Z_]+@/);
      for (const line of ["NoNewPrivileges=yes", "ProtectSystem=", "CapabilityBoundingSet=", "[Install]"]) {
        expect(text).toContain(line);
      }
      expect(text).toMatch(/^Restart=(on-failure|always)$/m);
      expect(text).toMatch(/^EnvironmentFile=\/etc\/lucid\//m);
    }
    const workerd = units["lucid-workerd.service"];
    expect(workerd).toContain("User=lucid\n");
    expect(workerd).toContain("ExecStart=/opt/lucid/node_modules/.bin/workerd serve /opt/lucid/out/pi/lucid.capnp\n");
    expect(workerd).toContain("ReadWritePaths=/var/lib/lucid\n");
    expect(workerd).toContain("--check-only /opt/lucid/out/pi/lucid.capnp");
    expect(workerd).toContain("ProtectSystem=strict\n");
    expect(workerd).toMatch(/^CapabilityBoundingSet=$/m);
    // The agent bridges xrdp (provisions users, runs xrdp): root, with a bounded set of capabilities.
    const agent = units["lucid-agent.service"];
    expect(agent).toContain("User=root\n");
    expect(agent).toMatch(/^CapabilityBoundingSet=CAP_SETUID .*CAP_KILL/m);
    expect(agent).not.toMatch(/CAP_SYS_ADMIN|CAP_NET_RAW|CAP_SYS_MODULE|CAP_SYS_PTRACE/);
  });

  it("refuses values systemd would misread", () => {
    const ok = defaultUnitOptions("/opt/lucid");
    expect(() => renderUnits({ ...ok, dataDir: "/var/lib/my data" })).toThrow(/dataDir/);
    expect(() => renderUnits({ ...ok, dataDir: "var/lib/lucid" })).toThrow(/dataDir/);
    expect(() => renderUnits({ ...ok, user: "Root User" })).toThrow(/user/);
    expect(() => renderUnits({ ...ok, agentExec: "node agent.ts" })).toThrow(/agentExec/);
    expect(() => renderUnits({ ...ok, agentExec: "/usr/bin/node $HOME/x" })).toThrow(/agentExec/);
  });

  it("pi:install-units --dry-run prints both units and writes nothing", () => {
    const unitDir = join(work, "units");
    const run = spawnSync(process.execPath, [join(ROOT, "edge-adapter", "install-units.ts"), "--dry-run", "--unit-dir", unitDir], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`# ---- ${join(unitDir, "lucid-workerd.service")}`);
    expect(run.stdout).toContain(`# ---- ${join(unitDir, "lucid-agent.service")}`);
    expect(run.stdout).toContain(`ExecStart=${join(ROOT, "node_modules", ".bin", "workerd")} serve`);
    expect(existsSync(unitDir)).toBe(false);
    // …and runs the agent's readiness check after them.
    expect(run.stdout).toContain("# Readiness (lucid-agent doctor)");
    expect(run.stdout).toMatch(/page size: /);
  });
});
