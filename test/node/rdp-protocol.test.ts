import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { canMoveConnection, canMoveServer } from "../../shared/rdp/states.ts";
import { verifySignature } from "../../shared/nodes/verify.ts";
import {
  AgentMessage,
  agentSigningBytes,
  CommandFrame,
  retryDelaySeconds,
  ServerFrame,
  type UnsignedAgentMessage,
} from "../../shared/rdp/protocol.ts";

const secret = ed25519.utils.randomSecretKey();
const publicKey = bytesToHex(ed25519.getPublicKey(secret));
const channel = "0123456789abcdef0123456789abcdef";
const sign = (hostId: string, m: UnsignedAgentMessage) => ({ ...m, sig: bytesToHex(ed25519.sign(agentSigningBytes(hostId, m), secret)) });

describe("RDP agent channel protocol", () => {
  it("signs and verifies an ack over canonical bytes, bound to the host", () => {
    const msg = sign("node_a", { type: "ack", channel, seq: 1, sentAt: 1_800_000_000_000, commandId: "cmd_1", outcome: "done" });
    const parsed = AgentMessage.parse(msg);
    expect(verifySignature(publicKey, agentSigningBytes("node_a", parsed), parsed.sig)).toBe(true);
    expect(verifySignature(publicKey, agentSigningBytes("node_b", parsed), parsed.sig)).toBe(false);
    expect(verifySignature(publicKey, agentSigningBytes("node_a", { ...parsed, seq: 2 }), parsed.sig)).toBe(false);
  });

  it("refuses unknown fields, floats in reports and unknown command kinds", () => {
    const event = { type: "event", channel, seq: 2, sentAt: 1, sig: "00".repeat(64) };
    expect(
      AgentMessage.safeParse({
        ...event,
        event: { kind: "resources", serverId: "s", cpuPercent: 12, memoryMb: 1, diskMb: 1, rxKbps: 0, txKbps: 0 },
      }).success,
    ).toBe(true);
    expect(
      AgentMessage.safeParse({
        ...event,
        event: { kind: "resources", serverId: "s", cpuPercent: 12.5, memoryMb: 1, diskMb: 1, rxKbps: 0, txKbps: 0 },
      }).success,
    ).toBe(false);
    expect(AgentMessage.safeParse({ ...event, extra: 1, event: { kind: "server", serverId: "s", state: "listening" } }).success).toBe(
      false,
    );
    expect(
      CommandFrame.safeParse({
        type: "command",
        id: "c",
        seq: 1,
        attempt: 1,
        issuedAt: 1,
        command: { kind: "server.reboot", serverId: "s" },
      }).success,
    ).toBe(false);
  });

  it("parses a start command with its configuration and limits", () => {
    const frame = {
      type: "command",
      id: "cmd_1",
      seq: 1,
      attempt: 1,
      issuedAt: 1,
      command: {
        kind: "server.start",
        serverId: "srv_1",
        sessionId: "ses_1",
        port: 13389,
        config: { resolution: { width: 1920, height: 1080 }, colourDepth: 24, backend: "xorg", user: "lucid13389" },
        limits: { cpuSharePercent: 25, memoryMb: 1024, diskMb: 2048, bandwidthKbps: 20000, sessionTtlSeconds: 3600 },
        password: "a".repeat(24),
      },
    };
    expect(ServerFrame.parse(frame)).toEqual(frame);
    expect(
      ServerFrame.safeParse({ ...frame, command: { ...frame.command, config: { ...frame.command.config, colourDepth: 8 } } }).success,
    ).toBe(false);
  });

  it("backs off retries exponentially up to the cap", () => {
    expect([1, 2, 3, 4, 5, 9].map(retryDelaySeconds)).toEqual([5, 10, 20, 40, 60, 60]);
  });
});

describe("RDP states", () => {
  it("allows the documented server lifecycle and nothing else", () => {
    expect(canMoveServer("created", "starting")).toBe(true);
    expect(canMoveServer("running", "stopping")).toBe(true);
    expect(canMoveServer("stopped", "destroyed")).toBe(true);
    expect(canMoveServer("stopped", "running")).toBe(false);
    expect(canMoveServer("destroyed", "created")).toBe(false);
  });

  it("allows active ↔ idle, reconnects after a disconnect, and nothing after terminated", () => {
    expect(canMoveConnection(null, "connecting")).toBe(true);
    expect(canMoveConnection(null, "active")).toBe(false);
    expect(canMoveConnection("active", "idle")).toBe(true);
    expect(canMoveConnection("idle", "active")).toBe(true);
    expect(canMoveConnection("disconnected", "connecting")).toBe(true);
    expect(canMoveConnection("active", "connecting")).toBe(false);
    expect(canMoveConnection("terminated", "connecting")).toBe(false);
  });
});
