import { z } from "@hono/zod-openapi";
import { NODE_STATES } from "../../shared/nodes/states.ts";

/** Response shapes of /api/v1/nodes (requests are shared/nodes/protocol.ts). */
const isoTime = z.string().openapi({ format: "date-time" });
const usdt = z.string().openapi({ example: "10.000000", description: "USDT as a decimal string" });

export const NodeIdParam = z.object({
  id: z
    .string()
    .regex(/^node_[0-9a-f-]{36}$/, "must be a node id (node_<uuid>)")
    .openapi({ example: "node_0b7e…" }),
});

export const NodeSchema = z
  .object({
    id: z.string(),
    pool: z.string(),
    operatorId: z.string(),
    publicKey: z.string(),
    payoutAddress: z.string(),
    payoutAddressUsableAt: isoTime
      .nullable()
      .openapi({ description: "After a change of payout address: it receives nothing before this time" }),
    resources: z.object({ cpuCores: z.number(), memoryMb: z.number(), diskGb: z.number(), bandwidthMbps: z.number() }),
    state: z.enum(NODE_STATES),
    stateChangedAt: isoTime,
    registeredAt: isoTime,
    lastHeartbeatAt: isoTime.nullable(),
    lastSeq: z.number().int(),
    lastReport: z.record(z.string(), z.unknown()).nullable(),
    operationalSeconds: z.number().int(),
    credits: z.number().int(),
    accrued: usdt,
    requested: usdt,
  })
  .openapi("Node");

export const CredentialSchema = z
  .object({
    token: z.string(),
    jti: z.string(),
    expiresAt: isoTime,
    header: z.string().openapi({ example: "X-Node-Credential", description: "Send the token in this header" }),
  })
  .openapi("NodeCredential");

export const EpochSchema = z
  .object({
    epoch: z.number().int(),
    start: isoTime,
    end: isoTime,
    operationalSeconds: z.number().int(),
    uptimeRatio: z.number(),
    sessionSeconds: z.number().int(),
    bytesRecorded: z.string(),
    credits: z.number().int(),
    weight: z.number().int(),
    earned: usdt,
    status: z.enum(["accrued", "held", "released", "rejected"]),
    reported: z.object({ sessionSeconds: z.number().int(), bytesRecorded: z.string() }),
  })
  .openapi("NodeEpoch");

export const PayoutSchema = z
  .object({
    idempotencyKey: z.string(),
    nodeId: z.string(),
    amount: usdt,
    credits: z.number().int(),
    status: z.enum(["queued", "delivered", "rejected"]),
    attempts: z.number().int(),
    nextAttemptAt: isoTime.nullable(),
    lastError: z.string().nullable(),
    payoutId: z.string().nullable(),
    createdAt: isoTime,
    deliveredAt: isoTime.nullable(),
  })
  .openapi("NodePayout");

export const NodeDetailSchema = z
  .object({
    node: NodeSchema,
    epochs: z.array(EpochSchema),
    payouts: z.array(PayoutSchema),
    events: z.array(
      z.object({ from: z.string().nullable(), to: z.string(), reason: z.string(), actor: z.string().nullable(), at: isoTime }),
    ),
  })
  .openapi("NodeDetail");

export const LeaderboardSchema = z
  .object({
    entries: z.array(
      z.object({
        rank: z.number().int(),
        nodeId: z.string(),
        operatorId: z.string(),
        pool: z.string(),
        operationalSeconds: z.number().int(),
        credits: z.number().int(),
      }),
    ),
  })
  .openapi("NodeLeaderboard");

export const HeartbeatAcceptedSchema = z
  .object({
    accepted: z.literal(true),
    state: z.enum(NODE_STATES),
    seq: z.number().int(),
    nextHeartbeatSeconds: z.number().int(),
    /** The single-use challenge the next beat must sign. */
    challenge: z.string(),
  })
  .openapi("HeartbeatAccepted");

export const HeartbeatChallengeSchema = z
  .object({ challenge: z.string(), lastSeq: z.number().int(), nextHeartbeatSeconds: z.number().int() })
  .openapi("HeartbeatChallenge");
