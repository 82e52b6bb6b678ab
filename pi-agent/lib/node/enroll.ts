/**
 * Enrolment: a fresh Ed25519 key (@noble/curves), a registration signed by it and sent with the
 * operator's access token to POST /api/v1/nodes (functions/nodes/registration.ts), and the answer
 * (node id, pool, credential) saved with the key in STATE/node.json, mode 0600.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { registrationMessage, type Resources } from "../../../shared/nodes/protocol.ts";
import { z } from "zod";
import { nodeStateSchema, saveNodeState, type NodeState } from "./state.ts";

const registeredSchema = z.object({
  node: z.object({ id: z.string(), pool: z.string() }),
  credential: nodeStateSchema.shape.credential,
});

/** The node API refused the registration (a 4xx with its problem+json detail). */
export class EnrolmentRefusedError extends Error {
  readonly status: number;
  readonly problemType: string;
  constructor(message: string, status: number, problemType: string) {
    super(message);
    this.status = status;
    this.problemType = problemType;
    this.name = "EnrolmentRefusedError";
  }
}

export interface EnrolOptions {
  server: string;
  operatorToken: string;
  /** The operator's id (the access token's `sub`): the signed registration names it. */
  operatorId: string;
  payoutAddress: string;
  resources: Resources;
  pool?: string;
  stateDir: string;
}

/** The `sub` of a JWT, read without verifying it (the server verifies; we only need the name we sign). */
export function tokenSubject(token: string): string {
  const payload = token.split(".")[1];
  if (!payload) throw new Error("the operator token is not a JWT");
  const sub = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: unknown }).sub;
  if (typeof sub !== "string" || sub.length === 0) throw new Error("the operator token carries no subject (sub)");
  return sub;
}

export async function enrol(o: EnrolOptions): Promise<NodeState> {
  const secretKey = ed25519.utils.randomSecretKey();
  const publicKey = bytesToHex(ed25519.getPublicKey(secretKey));
  const unsigned = { publicKey, payoutAddress: o.payoutAddress, resources: o.resources, timestamp: Date.now() };
  const signature = bytesToHex(ed25519.sign(registrationMessage(o.operatorId, unsigned), secretKey));
  const res = await fetch(new URL("/api/v1/nodes", o.server), {
    method: "POST",
    headers: { Authorization: `Bearer ${o.operatorToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ ...unsigned, ...(o.pool ? { pool: o.pool } : {}), signature }),
    signal: AbortSignal.timeout(30_000),
  });
  const json: unknown = await res.json().catch(() => null);
  if (res.status !== 201) {
    const problem = z.object({ type: z.string().optional(), detail: z.string().optional() }).safeParse(json);
    const detail = (problem.success && problem.data.detail) || res.statusText;
    throw new EnrolmentRefusedError(
      `registration refused (HTTP ${res.status}): ${detail}`,
      res.status,
      (problem.success && problem.data.type) || "",
    );
  }
  const body = registeredSchema.parse(json);
  const state: NodeState = {
    version: 1,
    server: new URL(o.server).origin,
    nodeId: body.node.id,
    pool: body.node.pool,
    publicKey,
    secretKey: bytesToHex(secretKey),
    payoutAddress: o.payoutAddress,
    credential: body.credential,
    enrolledAt: new Date().toISOString(),
  };
  saveNodeState(o.stateDir, state);
  return state;
}
