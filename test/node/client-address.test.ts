import { describe, expect, it } from "vitest";
import { chooseClientAddress, socketAddress } from "../../functions/middleware/client-address.ts";
import { canonicalIp, cidrContains, formatCidr, parseCidr, parseIp } from "../../shared/ip.ts";

describe("IP addresses", () => {
  it("parses IPv4 and IPv6 into canonical text", () => {
    expect(canonicalIp("192.0.2.1")).toBe("192.0.2.1");
    expect(canonicalIp("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    expect(canonicalIp("2001:db8:0:1:0:0:0:1")).toBe("2001:db8:0:1::1");
    expect(canonicalIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canonicalIp("2001:db8:1:1:1:1:0:1")).toBe("2001:db8:1:1:1:1:0:1");
    expect(canonicalIp("::")).toBe("::");
    expect(canonicalIp("::1")).toBe("::1");
    expect(canonicalIp("fe80::")).toBe("fe80::");
    expect(canonicalIp("64:ff9b::192.0.2.33")).toBe("64:ff9b::c000:221");
  });

  it("an IPv4-mapped IPv6 address is its IPv4 address", () => {
    expect(canonicalIp("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(canonicalIp("::FFFF:c000:0207")).toBe("192.0.2.7");
  });

  it("refuses what is not an address", () => {
    for (const text of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4:80",
      "::1::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
      "gg::1",
      "fe80::1%eth0",
      "example.org",
      "[::1]",
      " 1.2.3.4",
    ]) {
      expect(parseIp(text), text).toBeNull();
    }
  });

  it("reads workerd's socket peer (host:port, IPv6 bracketed)", () => {
    expect(socketAddress("192.0.2.9:51234")).toEqual(parseIp("192.0.2.9"));
    expect(socketAddress("[::1]:51234")).toEqual(parseIp("::1"));
    expect(socketAddress("[::ffff:10.0.0.1]:80")).toEqual(parseIp("10.0.0.1"));
    expect(socketAddress(undefined)).toBeNull();
    expect(socketAddress("")).toBeNull();
    expect(socketAddress("not-an-address:1")).toBeNull();
  });
});

describe("CIDR ranges", () => {
  it("parses IPv4 and IPv6 ranges and bare addresses", () => {
    expect(formatCidr(parseCidr("10.0.0.0/8"))).toBe("10.0.0.0/8");
    expect(formatCidr(parseCidr(" 2001:db8::/32 "))).toBe("2001:db8::/32");
    expect(formatCidr(parseCidr("192.0.2.1"))).toBe("192.0.2.1/32");
    expect(formatCidr(parseCidr("::1"))).toBe("::1/128");
    expect(formatCidr(parseCidr("0.0.0.0/0"))).toBe("0.0.0.0/0");
    expect(formatCidr(parseCidr("::ffff:10.0.0.0/104"))).toBe("10.0.0.0/8");
  });

  it("refuses malformed ranges with the reason", () => {
    expect(() => parseCidr("10.0.0.1/8")).toThrow(/host bits set.*10\.0\.0\.0\/8/);
    expect(() => parseCidr("10.0.0.0/33")).toThrow(/prefix length/);
    expect(() => parseCidr("2001:db8::/129")).toThrow(/prefix length/);
    expect(() => parseCidr("10.0.0.0/")).toThrow(/prefix length/);
    expect(() => parseCidr("10.0.0.0/8/8")).toThrow(/not an address/);
    expect(() => parseCidr("proxy.example/8")).toThrow(/not an IPv4 or IPv6/);
  });

  it("contains exactly its addresses, never across families", () => {
    const v4 = parseCidr("192.0.2.0/25");
    expect(cidrContains(v4, parseIp("192.0.2.127")!)).toBe(true);
    expect(cidrContains(v4, parseIp("192.0.2.128")!)).toBe(false);
    const v6 = parseCidr("2001:db8:abcc::/47");
    expect(cidrContains(v6, parseIp("2001:db8:abcd:1::5")!)).toBe(true);
    expect(cidrContains(v6, parseIp("2001:db8:abce::1")!)).toBe(false);
    expect(cidrContains(parseCidr("::/0"), parseIp("192.0.2.1")!)).toBe(false);
    expect(cidrContains(parseCidr("0.0.0.0/0"), parseIp("::1")!)).toBe(false);
    expect(cidrContains(parseCidr("10.0.0.0/8"), parseIp("::ffff:10.9.9.9")!)).toBe(true);
  });
});

describe("the client address, chosen by configuration", () => {
  const socket = { CLIENT_ADDRESS_SOURCE: "socket" as const, TRUSTED_PROXIES: [] };
  const facts = (cfClientIp: unknown, headers: { cf?: string; xff?: string } = {}) => ({
    cfClientIp,
    cfConnectingIp: headers.cf ?? null,
    xForwardedFor: headers.xff ?? null,
  });

  it("socket: workerd's peer, whatever CF-Connecting-IP or X-Forwarded-For say", () => {
    expect(chooseClientAddress(socket, facts("192.0.2.1:4000", { cf: "203.0.113.1", xff: "203.0.113.2" }))).toBe("192.0.2.1");
    expect(chooseClientAddress(socket, facts(undefined, { cf: "203.0.113.1" }))).toBe("unknown");
  });

  it("cloudflare: CF-Connecting-IP, canonical; a malformed one is unknown", () => {
    const cloudflare = { CLIENT_ADDRESS_SOURCE: "cloudflare" as const, TRUSTED_PROXIES: [] };
    expect(chooseClientAddress(cloudflare, facts("192.0.2.1:4000", { cf: "2001:DB8::0:1" }))).toBe("2001:db8::1");
    expect(chooseClientAddress(cloudflare, facts("192.0.2.1:4000", { cf: "evil, 1.2.3.4" }))).toBe("unknown");
    expect(chooseClientAddress(cloudflare, facts("192.0.2.1:4000"))).toBe("unknown");
  });

  it("trusted proxies: X-Forwarded-For walked right to left past trusted hops", () => {
    const config = {
      CLIENT_ADDRESS_SOURCE: "socket" as const,
      TRUSTED_PROXIES: [parseCidr("127.0.0.1"), parseCidr("10.0.0.0/8"), parseCidr("fd00::/8")],
    };
    const from = (peer: string, xff: string) => chooseClientAddress(config, facts(peer, { xff }));
    expect(from("127.0.0.1:1", "198.51.100.7")).toBe("198.51.100.7");
    expect(from("127.0.0.1:1", "6.6.6.6, 198.51.100.7, 10.0.0.2,10.0.0.3")).toBe("198.51.100.7");
    expect(from("[fd00::1]:1", "2001:db8::9")).toBe("2001:db8::9");
    // Every hop trusted: the left-most is the client (a proxy's own request).
    expect(from("127.0.0.1:1", "10.0.0.9")).toBe("10.0.0.9");
    // A hop that is not an address stops the walk at the nearest trusted proxy.
    expect(from("127.0.0.1:1", "198.51.100.7, garbage, 10.0.0.2")).toBe("10.0.0.2");
    expect(from("127.0.0.1:1", "")).toBe("127.0.0.1");
    // From an untrusted peer the header means nothing.
    expect(from("192.0.2.50:1", "198.51.100.7")).toBe("192.0.2.50");
  });
});
