// Bench-only Worker for bench/heartbeats.mjs: the real NodePoolDO, plus a subclass whose only
// difference is that it skips the Ed25519 signature check (sequence, clock, storage, state machine
// and alarms are the same), driven over RPC from this Worker's fetch handler. Each answer carries
// the nodes' fresh heartbeat challenges, which the next round of beats must sign.
import type { Heartbeat } from "../../shared/nodes/protocol.ts";
import { sequenceRefusal, type BeatLimits } from "../../shared/nodes/verify.ts";
import type { Refusal } from "../../shared/outcome.ts";
import { NodePoolDO } from "../../durable-objects/node-pool/index.ts";
import type { NodeRow } from "../../durable-objects/node-pool/views.ts";

export { NodePoolDO };

export class UnsignedNodePoolDO extends NodePoolDO {
  protected override refuseHeartbeat(node: NodeRow, beat: Heartbeat, now: number, limits: BeatLimits): Refusal | null {
    return sequenceRefusal({ ...node, challenge: node.heartbeatChallenge }, beat, now, limits);
  }
}

interface BenchEnv {
  NODE_POOLS: DurableObjectNamespace<NodePoolDO>;
  UNSIGNED_POOLS: DurableObjectNamespace<UnsignedNodePoolDO>;
}

interface BenchRequest {
  mode: "signed" | "unsigned";
  pool: string;
  nodes?: { nodeId: string; publicKey: string }[];
  beats?: { nodeId: string; beat: Heartbeat }[];
  concurrency?: number;
}

const JTI = "bench-credential";
const PAYOUT_ADDRESS = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC";

export default {
  async fetch(request: Request, env: BenchEnv): Promise<Response> {
    if (request.method !== "POST") return new Response("ready");
    const body = (await request.json()) as BenchRequest;
    const namespace = body.mode === "signed" ? env.NODE_POOLS : env.UNSIGNED_POOLS;
    const pool = namespace.get(namespace.idFromName(body.pool));
    const path = new URL(request.url).pathname;
    const challenges: Record<string, string> = {};
    if (path === "/register") {
      for (const node of body.nodes ?? []) {
        const outcome = await pool.register({
          pool: body.pool,
          nodeId: node.nodeId,
          operatorId: "bench",
          publicKey: node.publicKey,
          payoutAddress: PAYOUT_ADDRESS,
          resources: { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 },
          credential: { jti: `${JTI}-${node.nodeId}`, issuedAt: Date.now(), expiresAt: Date.now() + 86_400_000 },
        });
        if (!outcome.ok) return Response.json({ error: outcome.problem }, { status: 500 });
        challenges[node.nodeId] = outcome.value.heartbeatChallenge;
      }
      return Response.json({ registered: body.nodes?.length ?? 0, challenges });
    }
    // Beats are sent in order with up to `concurrency` RPCs in flight; calls on one stub arrive in order.
    const beats = body.beats ?? [];
    let accepted = 0;
    let failed = 0;
    let firstRefusal: unknown = null;
    let next = 0;
    const worker = async () => {
      while (next < beats.length) {
        const { nodeId, beat } = beats[next++]!;
        try {
          const outcome = await pool.heartbeat(nodeId, `${JTI}-${nodeId}`, beat);
          if (outcome.ok) {
            accepted++;
            challenges[nodeId] = outcome.value.challenge;
          } else firstRefusal ??= outcome.problem;
        } catch (error) {
          failed++;
          firstRefusal ??= { error: String(error) };
        }
      }
    };
    await Promise.all(Array.from({ length: body.concurrency ?? 16 }, worker));
    return Response.json({ accepted, refused: beats.length - accepted, failed, firstRefusal, challenges });
  },
};
