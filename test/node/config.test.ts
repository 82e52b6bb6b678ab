import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readWranglerConfig } from "../../edge-adapter/wrangler-config.ts";
import { ConfigError, parseConfig, publicConfig } from "../../shared/config.ts";
import { formatUnits } from "../../shared/money.ts";

const vars = readWranglerConfig(join(import.meta.dirname, "../../wrangler.toml")).vars;
const secret = "0123456789abcdef0123456789abcdef0123456789abcdef";
const secrets = {
  JWT_SECRET_KEY: secret,
  CHAIN_PRODUCER_KEY: "ab".repeat(32),
  WALLET_ENCRYPTION_KEY: "cd".repeat(32),
  SESSION_KEK: "ef".repeat(32),
};

function issues(source: Record<string, unknown>) {
  try {
    parseConfig(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

describe("wrangler.toml defaults", () => {
  it("parse with the seed's values", () => {
    const config = parseConfig({ ...vars, ...secrets });
    expect(config.RATE_LIMIT_PER_MINUTE).toBe(1000);
    expect(config.BLOCK_INTERVAL_SECONDS).toBe(10);
    expect(config.CHUNK_SIZE_BYTES).toBe(10 * 1024 * 1024);
    expect(config.MIN_PAYOUT_AMOUNT).toBe(1_000_000n);
    expect(config.MAX_PAYOUT_AMOUNT).toBe(10_000_000_000n);
    expect(config.PAYOUT_FEE).toBe(100_000n);
    expect(config.CORS_ALLOWED_ORIGINS).toEqual(["*"]);
    expect(config.RDP_PORT_MIN).toBe(13389);
    expect(config.RDP_PORT_MAX).toBe(14389);
  });

  it("publicConfig drops secrets and renders amounts as decimal strings", () => {
    const shown = publicConfig(parseConfig({ ...vars, ...secrets }), formatUnits);
    expect(shown).not.toHaveProperty("JWT_SECRET_KEY");
    expect(shown).not.toHaveProperty("SESSION_KEK");
    expect(shown.MIN_PAYOUT_AMOUNT).toBe("1.000000");
  });
});

describe("invalid configuration", () => {
  it("names each missing secret", () => {
    expect(issues({ ...vars })).toEqual([
      { variable: "JWT_SECRET_KEY", message: "is missing" },
      { variable: "CHAIN_PRODUCER_KEY", message: "is missing" },
      { variable: "SESSION_KEK", message: "is missing" },
      { variable: "WALLET_ENCRYPTION_KEY", message: "is missing" },
    ]);
    expect(issues({ ...vars, ...secrets, SESSION_KEK: "too-short" }).map((i) => i.variable)).toEqual(["SESSION_KEK"]);
  });

  it("keeps no secret value in the parsed config", () => {
    const config = parseConfig({ ...vars, ...secrets });
    expect(JSON.stringify(config, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain("abab");
  });

  it.each([
    ["RATE_LIMIT_PER_MINUTE", "1k"],
    ["MIN_PAYOUT_AMOUNT", "1.0000001"],
    ["MAX_PAYOUT_AMOUNT", "-5"],
    ["TRON_NETWORK", "testnet"],
    ["USDT_CONTRACT_ADDRESS", "0xdeadbeef"],
    ["CORS_ALLOWED_ORIGINS", "not a url"],
    ["ANCHORING_ENABLED", "yes"],
  ])("names %s=%s", (name, value) => {
    expect(issues({ ...vars, ...secrets, [name]: value }).map((i) => i.variable)).toContain(name);
  });

  it("checks relations between values", () => {
    const found = issues({ ...vars, ...secrets, MIN_PAYOUT_AMOUNT: "20000", RDP_PORT_MIN: "15000" });
    expect(found.map((i) => i.variable).sort()).toEqual(["MIN_PAYOUT_AMOUNT", "RDP_PORT_MIN"]);
  });
});

describe("public origin and client address", () => {
  const base = { ...vars, ...secrets };

  it("outside production PUBLIC_ORIGIN defaults to wrangler dev's loopback origin; production needs one", () => {
    expect(parseConfig(base).PUBLIC_ORIGIN).toBe("http://localhost:8787");
    expect(issues({ ...base, LUCID_ENV: "production" })).toEqual([
      { variable: "PUBLIC_ORIGIN", message: expect.stringMatching(/^is missing/) },
    ]);
    expect(parseConfig({ ...base, LUCID_ENV: "production", PUBLIC_ORIGIN: "https://lucid.example/" }).PUBLIC_ORIGIN).toBe(
      "https://lucid.example",
    );
  });

  it.each(["https://lucid.example", "https://lucid.example:8443", "http://localhost:8787", "http://127.0.0.1:9000", "http://[::1]:8080"])(
    "accepts %s",
    (origin) => expect(parseConfig({ ...base, PUBLIC_ORIGIN: origin }).PUBLIC_ORIGIN).toBe(origin),
  );

  it.each([
    "http://lucid.example",
    "http://192.168.1.20:8080",
    "https://lucid.example/app",
    "https://lucid.example/?x=1",
    "https://user@lucid.example",
    "ftp://lucid.example",
    "lucid.example",
  ])("refuses PUBLIC_ORIGIN=%s", (origin) =>
    expect(issues({ ...base, PUBLIC_ORIGIN: origin }).map((i) => i.variable)).toEqual(["PUBLIC_ORIGIN"]),
  );

  it("parses TRUSTED_PROXIES once (empty: none) and shows them as CIDR text", () => {
    expect(parseConfig(base).TRUSTED_PROXIES).toEqual([]);
    const config = parseConfig({ ...base, TRUSTED_PROXIES: "10.0.0.0/8, ::1, 2001:db8::/48" });
    expect(publicConfig(config, formatUnits).TRUSTED_PROXIES).toEqual(["10.0.0.0/8", "::1/128", "2001:db8::/48"]);
    expect(issues({ ...base, TRUSTED_PROXIES: "10.0.0.0/8, 10.0.0.1/8" })).toEqual([
      { variable: "TRUSTED_PROXIES", message: expect.stringContaining("host bits set") },
    ]);
  });

  it("the client address source is one of the deployments, cloudflare by default (wrangler deploy)", () => {
    expect(parseConfig(base).CLIENT_ADDRESS_SOURCE).toBe("cloudflare");
    expect(issues({ ...base, CLIENT_ADDRESS_SOURCE: "x-forwarded-for" }).map((i) => i.variable)).toEqual(["CLIENT_ADDRESS_SOURCE"]);
  });
});
