import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../shared/nodes/canonical.ts";
import { heartbeatMessage, resourceShortfalls } from "../../shared/nodes/protocol.ts";
import { canTransition } from "../../shared/nodes/states.ts";
import { isTronAddress } from "../../shared/nodes/tron-address.ts";
import { heartbeatRefusal } from "../../shared/nodes/verify.ts";

describe("TRON addresses", () => {
  it("accepts valid base58check addresses and refuses bad checksums or prefixes", () => {
    expect(isTronAddress("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC")).toBe(true);
    expect(isTronAddress("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")).toBe(true);
    expect(isTronAddress("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD")).toBe(false);
    expect(isTronAddress("1BoatSLRHtKNngkdXEeobR76b53LETtpyT")).toBe(false); // a Bitcoin address
    expect(isTronAddress("T")).toBe(false);
  });
});

describe("canonical JSON", () => {
  it("sorts keys at every level and refuses floats", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: true, y: null }], c: "x" } })).toBe('{"a":{"c":"x","d":[2,{"y":null,"z":true}]},"b":1}');
    expect(() => canonicalJson({ x: 0.5 })).toThrow();
  });
});

describe("heartbeat verification", () => {
  const secret = ed25519.utils.randomSecretKey();
  const challenge = "0123456789abcdef0123456789abcdef";
  const node = { id: "node_x", publicKey: bytesToHex(ed25519.getPublicKey(secret)), lastSeq: 7, challenge };
  const report = { cpuPercent: 1, memoryPercent: 2, diskPercent: 3, networkMbps: 4, sessionsHosted: 0, bytesRecorded: 0, accepting: true };
  const now = 1_800_000_000_000;
  const limits = { maxSkewSeconds: 30, seqWindow: 1000 };
  const signed = (seq: number, sentAt = now, signedChallenge = challenge) => {
    const unsigned = { seq, challenge: signedChallenge, sentAt, report };
    return { ...unsigned, signature: bytesToHex(ed25519.sign(heartbeatMessage(node.id, unsigned), secret)) };
  };

  it("accepts the next sequence within the skew bound and the window", () => {
    expect(heartbeatRefusal(node, signed(8), now, limits)).toBeNull();
    expect(heartbeatRefusal(node, signed(8, now - 30_000), now, limits)).toBeNull();
    expect(heartbeatRefusal(node, signed(1007), now, limits)).toBeNull();
  });

  it("signs version 2 of the message, which carries the challenge", () => {
    const bytes = new TextDecoder().decode(heartbeatMessage(node.id, { seq: 8, challenge, sentAt: now, report }));
    expect(bytes).toContain('"kind":"lucid.node.heartbeat.v2"');
    expect(bytes).toContain(`"challenge":"${challenge}"`);
  });

  it("refuses replays, older sequences, skew and signatures over other bytes", () => {
    expect(heartbeatRefusal(node, signed(7), now, limits)?.slug).toBe("heartbeat-replayed");
    expect(heartbeatRefusal(node, signed(6), now, limits)?.slug).toBe("heartbeat-out-of-order");
    expect(heartbeatRefusal(node, signed(8, now + 31_000), now, limits)?.slug).toBe("clock-skew");
    expect(heartbeatRefusal(node, { ...signed(8), seq: 9 }, now, limits)?.slug).toBe("invalid-signature");
    expect(heartbeatRefusal({ ...node, id: "node_y" }, signed(8), now, limits)?.slug).toBe("invalid-signature");
  });

  it("refuses a sequence beyond the window (2^53−1 included) and a stale or absent challenge", () => {
    expect(heartbeatRefusal(node, signed(1008), now, limits)?.slug).toBe("heartbeat-seq-out-of-window");
    expect(heartbeatRefusal(node, signed(Number.MAX_SAFE_INTEGER), now, limits)?.slug).toBe("heartbeat-seq-out-of-window");
    const stale = heartbeatRefusal(node, signed(8, now, "f".repeat(32)), now, limits);
    expect(stale).toMatchObject({ slug: "heartbeat-challenge", extensions: { challenge } });
    expect(heartbeatRefusal({ ...node, challenge: null }, signed(8), now, limits)?.slug).toBe("heartbeat-challenge");
    // A beat that claims the current challenge but signed another is a bad signature.
    expect(heartbeatRefusal(node, { ...signed(8, now, "f".repeat(32)), challenge }, now, limits)?.slug).toBe("invalid-signature");
  });
});

describe("node rules", () => {
  it("names each short resource", () => {
    const minimum = { cpuCores: 4, memoryMb: 4096, diskGb: 64, bandwidthMbps: 10 };
    expect(resourceShortfalls({ cpuCores: 2, memoryMb: 8192, diskGb: 64, bandwidthMbps: 5 }, minimum)).toEqual([
      { resource: "cpuCores", declared: 2, minimum: 4 },
      { resource: "bandwidthMbps", declared: 5, minimum: 10 },
    ]);
  });

  it("allows only the documented state transitions", () => {
    expect(canTransition("registering", "active")).toBe(true);
    expect(canTransition("offline", "working")).toBe(true);
    expect(canTransition("suspended", "active")).toBe(false);
    expect(canTransition("terminated", "offline")).toBe(false);
  });
});
