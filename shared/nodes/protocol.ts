import { z } from "zod";
import { canonicalBytes } from "./canonical.ts";
import { isTronAddress } from "./tron-address.ts";

/**
 * What a node (the Pi agent) sends and signs. Every signed message is the canonical JSON
 * (shared/nodes/canonical.ts) of an object whose `kind` names the message and its version,
 * signed with the node's Ed25519 key; the signature travels as 128 hex characters.
 */
export const HEX_PUBLIC_KEY = z.string().regex(/^[0-9a-f]{64}$/, "must be a 32-byte Ed25519 public key as lowercase hex");
export const HEX_SIGNATURE = z.string().regex(/^[0-9a-f]{128}$/, "must be a 64-byte Ed25519 signature as lowercase hex");
export const TRON_ADDRESS = z.string().refine(isTronAddress, "must be a TRON base58check address (T…, valid checksum)");
const count = (max: number) => z.number().int().min(0).max(max);

export const ResourcesSchema = z
  .object({
    cpuCores: count(1024),
    memoryMb: count(16 * 1024 * 1024),
    diskGb: count(1024 * 1024),
    bandwidthMbps: count(1_000_000),
  })
  .strict();
export type Resources = z.infer<typeof ResourcesSchema>;

/** Unix epoch milliseconds as the node's clock reads them. */
const timestampMs = z.number().int().min(0).max(8.64e15);

export const RegistrationSchema = z
  .object({
    publicKey: HEX_PUBLIC_KEY,
    payoutAddress: TRON_ADDRESS,
    resources: ResourcesSchema,
    /** Ask for a specific pool; omitted, the directory picks one with room. */
    pool: z
      .string()
      .regex(/^pool-[0-9]{1,6}$/)
      .optional(),
    timestamp: timestampMs,
    signature: HEX_SIGNATURE,
  })
  .strict();
export type Registration = z.infer<typeof RegistrationSchema>;

export const ReportSchema = z
  .object({
    cpuPercent: count(100),
    memoryPercent: count(100),
    diskPercent: count(100),
    networkMbps: count(1_000_000),
    sessionsHosted: count(10_000),
    /** Bytes recorded since the previous heartbeat (at most 1 TB: epoch sums stay exact integers). */
    bytesRecorded: count(1_000_000_000_000),
    /** False: online but not taking new sessions (state `idle`). */
    accepting: z.boolean(),
    /**
     * The agent's own services as it last saw them (true: running and healthy). Optional: agents
     * from before it was added omit it, and count as not reporting (health: GET /system/services).
     */
    services: z.object({ recorder: z.boolean(), chunkProcessor: z.boolean(), xrdp: z.boolean() }).strict().optional(),
    /** How full the agent's upload spool is, in percent of its limit (alert: spoolFullPercent). */
    spoolPercent: count(100).optional(),
  })
  .strict();
export type Report = z.infer<typeof ReportSchema>;

/** The pool's single-use heartbeat challenge: 16 random bytes as lowercase hex. */
export const HEARTBEAT_CHALLENGE = z.string().regex(/^[0-9a-f]{32}$/, "must be the pool's 32-hex-character heartbeat challenge");

export const HeartbeatSchema = z
  .object({
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    /** The challenge the pool handed out with the previous accepted beat (or registration, or GET heartbeat-challenge). */
    challenge: HEARTBEAT_CHALLENGE,
    sentAt: timestampMs,
    report: ReportSchema,
    signature: HEX_SIGNATURE,
  })
  .strict();
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

export const CredentialRequestSchema = z.object({ timestamp: timestampMs, signature: HEX_SIGNATURE }).strict();

/** Bytes the node signs to prove it holds the key it registers (bound to the operator and a time). */
export function registrationMessage(operatorId: string, r: Omit<Registration, "signature" | "pool">): Uint8Array {
  return canonicalBytes({
    kind: "lucid.node.register.v1",
    operatorId,
    publicKey: r.publicKey,
    payoutAddress: r.payoutAddress,
    resources: r.resources,
    timestamp: r.timestamp,
  });
}

/** Version 2 signs the pool's challenge, so a beat can be neither pre-signed nor replayed. */
export const HEARTBEAT_KIND = "lucid.node.heartbeat.v2";

export function heartbeatMessage(nodeId: string, h: Omit<Heartbeat, "signature">): Uint8Array {
  return canonicalBytes({ kind: HEARTBEAT_KIND, nodeId, seq: h.seq, challenge: h.challenge, sentAt: h.sentAt, report: h.report });
}

/** A fresh single-use challenge (WebCrypto's CSPRNG, present in the Worker and in Node). */
export function newHeartbeatChallenge(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Asking for a fresh credential (after a revocation) needs the node key as well. */
export function credentialRequestMessage(nodeId: string, timestamp: number): Uint8Array {
  return canonicalBytes({ kind: "lucid.node.credential.v1", nodeId, timestamp });
}

export interface Shortfall {
  resource: keyof Resources;
  declared: number;
  minimum: number;
}

/** Every declared resource below its configured minimum. */
export function resourceShortfalls(declared: Resources, minimum: Resources): Shortfall[] {
  return (Object.keys(minimum) as (keyof Resources)[])
    .filter((key) => declared[key] < minimum[key])
    .map((resource) => ({ resource, declared: declared[resource], minimum: minimum[resource] }));
}
